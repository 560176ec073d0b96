"""Hosting: models, endpoint configurations, endpoints and batch transform jobs.

    records.py     the SQLite tables behind them (in the job store's file, smlocal.db)
    logbook.py     CloudWatch log groups other than the training jobs' (endpoints, transform jobs)
    artifacts.py   ModelDataUrl (s3://, file://, a local path) -> a model folder, safely unpacked
    placement.py   which runner and image serve a model (the training jobs' policy)
    servers.py     one `serve` process or container on a port of its own, health-checked
    endpoints.py   endpoints: deployments of servers, routing by name, updates, restarts
    batching.py    batch transform's records: splitting, mini-batches, assembling outputs
    transform.py   one transform job: objects in, `<object>.out` out
    service.py     the operations' logic over all of the above, for the API and the CLI

The emulator talks to a server only through SageMaker's container contract (`serve`, /ping,
/invocations, /execution-parameters, /opt/ml/model); it never imports the algorithms.
"""
