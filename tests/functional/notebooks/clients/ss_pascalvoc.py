"""introduction_to_amazon_algorithms/semantic_segmentation_pascalvoc/semantic_segmentation_pascalvoc.ipynb,
cell by cell (SDK v2); `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test's
tiny Pascal VOC 2012 stand-in, pascal-voc/VOC2012/ with JPEGImages, SegmentationClass and
ImageSets/Segmentation, and data/test.jpg, instead of the wget downloads), and the sizes that
follow from it (crop_size, one epoch, mini_batch_size, validation_mini_batch_size). The
channels are the notebook's: `sess.upload_data` URIs without a trailing slash, so `train` also
matches `train_annotation/` (docs/emulator.md, S3 prefix semantics). `use_pretrained_model="True"`
reads the server's model store.
"""
import json
import os

results = {}

# [5]
import sagemaker

role = os.environ["ROLE"]  # get_execution_role()
print(role)
sess = sagemaker.Session()

# [7]
bucket = sess.default_bucket()
prefix = "semantic-segmentation-demo"
print(bucket)

# [9]
training_image = sagemaker.image_uris.retrieve("semantic-segmentation", sess.boto_region_name)
print(training_image)

# [14] (wget and tar of pascal-voc.tgz) are the test's files
# [16]
import os
import shutil

VOC2012 = "pascal-voc/VOC2012"
os.makedirs("data/train", exist_ok=True)
os.makedirs("data/validation", exist_ok=True)
os.makedirs("data/train_annotation", exist_ok=True)
os.makedirs("data/validation_annotation", exist_ok=True)

with open(VOC2012 + "/ImageSets/Segmentation/train.txt") as f:
    train_list = f.read().splitlines()

with open(VOC2012 + "/ImageSets/Segmentation/val.txt") as f:
    val_list = f.read().splitlines()

for i in train_list:
    shutil.copy2(VOC2012 + "/JPEGImages/" + i + ".jpg", "data/train/")
    shutil.copy2(VOC2012 + "/SegmentationClass/" + i + ".png", "data/train_annotation/")

for i in val_list:
    shutil.copy2(VOC2012 + "/JPEGImages/" + i + ".jpg", "data/validation/")
    shutil.copy2(VOC2012 + "/SegmentationClass/" + i + ".png", "data/validation_annotation/")

# [18]
import glob

num_training_samples = len(glob.glob1("data/train", "*.jpg"))
num_validation_samples = len(glob.glob1("data/validation", "*.jpg"))

print("Num Train Images = " + str(num_training_samples))
assert num_training_samples == len(glob.glob1("data/train_annotation", "*.png"))

print("Num Validation Images = " + str(num_validation_samples))
assert num_validation_samples == len(glob.glob1("data/validation_annotation", "*.png"))

# [20]
import json

label_map = {"scale": 1}
with open("data/train_label_map.json", "w") as lmfile:
    json.dump(label_map, lmfile)

# [22]
train_channel = sess.upload_data(path="data/train", bucket=bucket, key_prefix=prefix + "/train")
print(train_channel)
train_annotation_channel = sess.upload_data(
    path="data/train_annotation",
    bucket=bucket,
    key_prefix=prefix + "/train_annotation",
)
print(train_annotation_channel)
validation_channel = sess.upload_data(path="data/validation", bucket=bucket, key_prefix=prefix + "/validation")
print(validation_channel)
validation_annotation_channel = sess.upload_data(
    path="data/validation_annotation",
    bucket=bucket,
    key_prefix=prefix + "/validation_annotation",
)
print(validation_annotation_channel)
results["channels"] = [train_channel, train_annotation_channel, validation_channel, validation_annotation_channel]

# [24]
s3_output_location = "s3://{}/{}/output".format(bucket, prefix)
print(s3_output_location)

# [26]
ss_estimator = sagemaker.estimator.Estimator(
    training_image,
    role,
    instance_count=1,
    instance_type="ml.p3.2xlarge",
    volume_size=50,
    max_run=360000,
    output_path=s3_output_location,
    base_job_name="ss-notebook-demo",
    sagemaker_session=sess,
)

# [29]
ss_estimator.set_hyperparameters(
    backbone="resnet-50",
    algorithm="fcn",
    use_pretrained_model="True",
    crop_size=32,  # 240
    num_classes=21,
    epochs=1,  # 10
    learning_rate=0.0001,
    optimizer="rmsprop",
    lr_scheduler="poly",
    mini_batch_size=2,  # 16
    validation_mini_batch_size=1,  # 16
    early_stopping=True,
    early_stopping_patience=2,
    early_stopping_min_epochs=10,
    num_training_samples=num_training_samples,
)

# [31]
distribution = "FullyReplicated"

data_channels = {
    "train": sagemaker.inputs.TrainingInput(train_channel, distribution=distribution),
    "validation": sagemaker.inputs.TrainingInput(validation_channel, distribution=distribution),
    "train_annotation": sagemaker.inputs.TrainingInput(train_annotation_channel, distribution=distribution),
    "validation_annotation": sagemaker.inputs.TrainingInput(validation_annotation_channel, distribution=distribution),
}

# [33]
ss_estimator.fit(data_channels, logs=True)
results["training_job"] = ss_estimator.latest_training_job.name

# [35]
ss_predictor = ss_estimator.deploy(initial_instance_count=1, instance_type="ml.c5.xlarge")

# [38] (the test wrote data/test.jpg instead of the wget)
filename_raw = "data/test.jpg"

# [40] (without `%matplotlib inline`, an IPython magic; MPLBACKEND=Agg)
from matplotlib import pyplot as plt
import PIL

filename = "data/test_resized.jpg"
width = 800

im = PIL.Image.open(filename_raw)

aspect = im.size[0] / im.size[1]

im.thumbnail([width, int(width / aspect)], PIL.Image.ANTIALIAS)
im.save(filename, "JPEG")

plt.imshow(im)
plt.show()

# [42]
from PIL import Image
import numpy as np


class ImageDeserializer(sagemaker.deserializers.BaseDeserializer):
    """Deserialize a PIL-compatible stream of Image bytes into a numpy pixel array"""

    def __init__(self, accept="image/png"):
        self.accept = accept

    @property
    def ACCEPT(self):
        return (self.accept,)

    def deserialize(self, stream, content_type):
        try:
            return np.array(Image.open(stream))
        finally:
            stream.close()


ss_predictor.deserializer = ImageDeserializer(accept="image/png")

# [44]
ss_predictor.serializer = sagemaker.serializers.IdentitySerializer("image/jpeg")

with open(filename, "rb") as imfile:
    imbytes = imfile.read()

# [46]
cls_mask = ss_predictor.predict(imbytes)

print(type(cls_mask))
print(cls_mask.shape)
results["mask_shape"], results["mask_max"] = list(cls_mask.shape), int(cls_mask.max())
results["image_size"] = list(im.size)

# [48]
plt.imshow(cls_mask, cmap="jet")
plt.show()

# [50]-[57] need MXNet in the kernel (mx.recordio reads the protobuf answer): not in this venv
# [59]
ss_predictor.delete_endpoint()
results["endpoint"] = ss_predictor.endpoint_name

print("NOTEBOOK-RESULT " + json.dumps(results))
