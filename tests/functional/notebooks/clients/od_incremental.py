"""introduction_to_amazon_algorithms/object_detection_pascalvoc_coco/object_detection_incremental_training.ipynb
(its last version, 2021, written for SDK v1), cell by cell under SDK v2, whose deprecation shims
take the v1 spellings (get_image_uri, train_instance_count, s3_input, Predictor.content_type and
.endpoint); `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test's
tiny Pascal VOC stand-in: VOCdevkit/train.rec, val.rec and train.lst in the current folder,
instead of the download and tools/prepare_dataset.py), the sizes that follow from it
(num_classes, num_training_samples, mini_batch_size, one epoch, the category list) and the test
image (the test's file, not wget). `use_pretrained_model=1` reads the server's model store.

    python od_incremental.py NUM_CLASSES NUM_TRAINING_SAMPLES
"""
import json
import os
import subprocess
import sys

NUM_CLASSES, NUM_TRAINING_SAMPLES = int(sys.argv[1]), int(sys.argv[2])
recorded = {}  # what the test checks (`results` is the notebook's own name)

# [3]
import sagemaker

role = os.environ["ROLE"]  # get_execution_role()
print(role)
sess = sagemaker.Session()

# [5]
bucket = sess.default_bucket()
prefix = "DEMO-ObjectDetection"

# [7]
from sagemaker.amazon.amazon_estimator import get_image_uri

training_image = get_image_uri(sess.boto_region_name, "object-detection", repo_version="latest")
print(training_image)

# [10], [12] (wget of VOC 2007/2012, prepare_dataset.py) are the test's files
# [14]
subprocess.run("head -n 3 VOCdevkit/train.lst > example.lst", shell=True, check=True)
f = open("example.lst", "r")
lst_content = f.read()
print(lst_content)

# [18]
train_channel = prefix + "/train"
validation_channel = prefix + "/validation"

s3_train_data = "s3://{}/{}".format(bucket, train_channel)
s3_validation_data = "s3://{}/{}".format(bucket, validation_channel)

sess.upload_data(path="VOCdevkit/train.rec", bucket=bucket, key_prefix=train_channel)
sess.upload_data(path="VOCdevkit/val.rec", bucket=bucket, key_prefix=validation_channel)

# [20]
s3_output_location = "s3://{}/{}/output".format(bucket, prefix)

# [22]
od_model = sagemaker.estimator.Estimator(
    training_image,
    role,
    train_instance_count=1,
    train_instance_type="ml.p3.2xlarge",
    train_volume_size=50,
    train_max_run=360000,
    input_mode="File",
    output_path=s3_output_location,
    sagemaker_session=sess,
)

# [24]
od_model.set_hyperparameters(
    base_network="resnet-50",
    use_pretrained_model=1,
    num_classes=NUM_CLASSES,  # 20
    mini_batch_size=2,  # 16
    epochs=1,  # 5
    learning_rate=0.001,
    lr_scheduler_step="3,6",
    lr_scheduler_factor=0.1,
    optimizer="rmsprop",
    momentum=0.9,
    weight_decay=0.0005,
    overlap_threshold=0.5,
    nms_threshold=0.45,
    image_shape=300,
    label_width=350,
    num_training_samples=NUM_TRAINING_SAMPLES,  # 16551
)

# [26]
train_data = sagemaker.session.s3_input(
    s3_train_data,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)
validation_data = sagemaker.session.s3_input(
    s3_validation_data,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)
data_channels = {"train": train_data, "validation": validation_data}

# [28]
od_model.fit(inputs=data_channels, logs=True)
recorded["first_job"] = od_model.latest_training_job.name

# [31]
new_od_model = sagemaker.estimator.Estimator(
    training_image,
    role,
    train_instance_count=1,
    train_instance_type="ml.p3.2xlarge",
    train_volume_size=50,
    train_max_run=360000,
    input_mode="File",
    output_path=s3_output_location,
    sagemaker_session=sess,
)

# [32]
new_od_model.set_hyperparameters(
    base_network="resnet-50",
    num_classes=NUM_CLASSES,  # 20
    mini_batch_size=2,  # 16
    epochs=1,
    learning_rate=0.001,
    optimizer="rmsprop",
    momentum=0.9,
    image_shape=300,
    label_width=350,
    num_training_samples=NUM_TRAINING_SAMPLES,  # 16551
)

# [34]
train_data = sagemaker.session.s3_input(
    s3_train_data,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)
validation_data = sagemaker.session.s3_input(
    s3_validation_data,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)

s3_model_data = od_model.model_data

model_data = sagemaker.session.s3_input(
    s3_model_data,
    distribution="FullyReplicated",
    content_type="application/x-sagemaker-model",
    s3_data_type="S3Prefix",
)

new_data_channels = {"train": train_data, "validation": validation_data, "model": model_data}

# [36]
new_od_model.fit(inputs=new_data_channels, logs=True)
recorded["incremental_job"], recorded["base_model"] = new_od_model.latest_training_job.name, s3_model_data

# [39]
object_detector = new_od_model.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")

# [41] (the test's image instead of wget)
file_name = "test.jpg"

with open(file_name, "rb") as image:
    f = image.read()
    b = bytearray(f)
    ne = open("n.txt", "wb")
    ne.write(b)

# [43]
import json

object_detector.content_type = "image/jpeg"
results = object_detector.predict(b)
detections = json.loads(results)
print(detections)
recorded["detections"] = detections


# [45]
def visualize_detection(img_file, dets, classes=[], thresh=0.6):
    import random
    import matplotlib.pyplot as plt
    import matplotlib.image as mpimg

    img = mpimg.imread(img_file)
    plt.imshow(img)
    height = img.shape[0]
    width = img.shape[1]
    colors = dict()
    for det in dets:
        (klass, score, x0, y0, x1, y1) = det
        if score < thresh:
            continue
        cls_id = int(klass)
        if cls_id not in colors:
            colors[cls_id] = (random.random(), random.random(), random.random())
        xmin = int(x0 * width)
        ymin = int(y0 * height)
        xmax = int(x1 * width)
        ymax = int(y1 * height)
        rect = plt.Rectangle(
            (xmin, ymin),
            xmax - xmin,
            ymax - ymin,
            fill=False,
            edgecolor=colors[cls_id],
            linewidth=3.5,
        )
        plt.gca().add_patch(rect)
        class_name = str(cls_id)
        if classes and len(classes) > cls_id:
            class_name = classes[cls_id]
        plt.gca().text(
            xmin,
            ymin - 2,
            "{:s} {:.3f}".format(class_name, score),
            bbox=dict(facecolor=colors[cls_id], alpha=0.5),
            fontsize=12,
            color="white",
        )
    plt.show()


# [47]
object_categories = ["aeroplane", "bicycle"][:NUM_CLASSES]  # the 20 VOC classes

threshold = 0.20

visualize_detection(file_name, detections["prediction"], object_categories, threshold)

# [49]
sagemaker.Session().delete_endpoint(object_detector.endpoint)
recorded["endpoint"] = object_detector.endpoint_name

print("NOTEBOOK-RESULT " + json.dumps(recorded))
