"""What SDK v2 and sagemaker-core read back from the API, each entry point called once.

SDK v2: Estimator.attach, TrainingJobAnalytics, HyperparameterTuner.attach (and the attached
tuner's best_training_job and deploy), HyperparameterTuningJobAnalytics, Estimator.transformer
and Transformer.attach.
sagemaker-core: the resource classes' get / refresh / get_all for training jobs, tuning jobs,
models, endpoint configurations, endpoints and transform jobs (pydantic models of the Describe
and List responses). One tiny training job and a one-job tuning job are all it trains.

    python sdk_readers.py   (train.rec, validation.rec and test.jpg in the current folder)
Prints NOTEBOOK-RESULT {...}: what each reader returned.
"""
import json
import os

import sagemaker
from sagemaker import image_uris
from sagemaker.analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.transformer import Transformer
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
from sagemaker_core.main import resources

role = os.environ["ROLE"]
sess = sagemaker.Session()
bucket = sess.default_bucket()
prefix = "sdk-readers"
for channel in ("train", "validation"):
    sess.upload_data(f"{channel}.rec", bucket=bucket, key_prefix=f"{prefix}/{channel}")
sess.upload_data("test.jpg", bucket=bucket, key_prefix=f"{prefix}/test")
channels = {c: TrainingInput(f"s3://{bucket}/{prefix}/{c}/", content_type="application/x-recordio")
            for c in ("train", "validation")}
seen = {}

estimator = Estimator(image_uris.retrieve("image-classification", sess.boto_region_name), role, instance_count=1,
                      instance_type="ml.m5.large", output_path=f"s3://{bucket}/{prefix}/output",
                      sagemaker_session=sess)
estimator.set_hyperparameters(num_layers=18, image_shape="3,32,32", num_classes=4, num_training_samples=16,
                              mini_batch_size=8, epochs=2)
estimator.fit(channels, logs=False)
job = estimator.latest_training_job.name

attached = Estimator.attach(job, sagemaker_session=sess)
seen["attach"] = {"model_data": attached.model_data, "role": attached.role, "instance_type": attached.instance_type,
                  "instance_count": attached.instance_count, "volume_size": attached.volume_size,
                  "max_run": attached.max_run, "input_mode": attached.input_mode, "output_path": attached.output_path,
                  "output_kms_key": attached.output_kms_key, "image_uri": attached.image_uri,
                  "hyperparameters": attached.hyperparameters(), "base_job_name": attached.base_job_name}

metrics = TrainingJobAnalytics(job, metric_names=["train:accuracy", "validation:accuracy"],
                               sagemaker_session=sess).dataframe()
seen["training_analytics"] = sorted({(row["metric_name"], len(metrics[metrics["metric_name"] == row["metric_name"]]))
                                     for _, row in metrics.iterrows()})

tuner = HyperparameterTuner(estimator, "validation:accuracy", {"learning_rate": ContinuousParameter(0.01, 0.1)},
                            max_jobs=1, max_parallel_jobs=1)
tuner.fit(channels)
tuning_job = tuner.latest_tuning_job.name
attached_tuner = HyperparameterTuner.attach(tuning_job, sagemaker_session=sess)
seen["tuner_attach"] = {
    "objective_metric_name": attached_tuner.objective_metric_name, "objective_type": attached_tuner.objective_type,
    "strategy": attached_tuner.strategy, "max_jobs": attached_tuner.max_jobs,
    "max_parallel_jobs": attached_tuner.max_parallel_jobs, "early_stopping_type": attached_tuner.early_stopping_type,
    "ranges": attached_tuner.hyperparameter_ranges(), "best_training_job": attached_tuner.best_training_job(),
    "estimator_instance_type": attached_tuner.estimator.instance_type,
    "estimator_hyperparameters": attached_tuner.estimator.hyperparameters()}
tuning = HyperparameterTuningJobAnalytics(tuning_job, sagemaker_session=sess)
table = tuning.dataframe()
seen["tuning_analytics"] = {"columns": sorted(table.columns), "rows": len(table),
                            "summaries": len(tuning.training_job_summaries()),
                            "status": tuning.description()["HyperParameterTuningJobStatus"]}

predictor = attached_tuner.deploy(initial_instance_count=1, instance_type="ml.m5.large")
transformer = attached.transformer(instance_count=1, instance_type="ml.m5.large",
                                   output_path=f"s3://{bucket}/{prefix}/batch/")
transformer.transform(f"s3://{bucket}/{prefix}/test/", content_type="application/x-image")
transformer.wait(logs=False)
reattached = Transformer.attach(transformer.latest_transform_job.name, sagemaker_session=sess)
seen["transformer_attach"] = {"model_name": reattached.model_name, "instance_type": reattached.instance_type,
                              "output_path": reattached.output_path, "strategy": reattached.strategy}
endpoint = predictor.endpoint_name
endpoint_config = sess.sagemaker_client.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
model = sess.sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint_config)[
    "ProductionVariants"][0]["ModelName"]

# sagemaker-core: every resource class that describes what this server keeps.
training = resources.TrainingJob.get(job)
training.refresh()
core = {"training_job": {"status": training.training_job_status, "secondary": training.secondary_status,
                         "model": training.model_artifacts.s3_model_artifacts,
                         "channels": [c.channel_name for c in training.input_data_config],
                         "transitions": [t.status for t in training.secondary_status_transitions],
                         "metrics": sorted({m.metric_name for m in training.final_metric_data_list})}}
core_tuning = resources.HyperParameterTuningJob.get(tuning_job)
core["tuning_job"] = {"status": core_tuning.hyper_parameter_tuning_job_status,
                      "best": core_tuning.best_training_job.training_job_name,
                      "completed": core_tuning.training_job_status_counters.completed}
core["model"] = resources.Model.get(model).primary_container.model_data_url
core["endpoint_config"] = [v.model_name for v in resources.EndpointConfig.get(endpoint_config).production_variants]
core_endpoint = resources.Endpoint.get(endpoint)
core["endpoint"] = {"status": core_endpoint.endpoint_status,
                    "variants": [v.current_instance_count for v in core_endpoint.production_variants]}
core_transform = resources.TransformJob.get(transformer.latest_transform_job.name)
core["transform_job"] = {"status": core_transform.transform_job_status,
                         "output": core_transform.transform_output.s3_output_path}
core["listed"] = {cls.__name__: len(list(cls.get_all())) for cls in (
    resources.TrainingJob, resources.HyperParameterTuningJob, resources.Model, resources.EndpointConfig,
    resources.Endpoint, resources.TransformJob)}
seen["core"] = core
predictor.delete_endpoint()
seen["job"], seen["tuning_job"] = job, tuning_job
print("NOTEBOOK-RESULT " + json.dumps(seen, default=str))
