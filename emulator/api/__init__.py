"""A SageMaker-compatible HTTP API for the emulator: `smlocal api`.

One port serves the SageMaker training-job operations, the CloudWatch Logs operations that
`fit(logs=True)` uses and the CloudWatch metric statistics behind training-job analytics, so
`AWS_ENDPOINT_URL=http://127.0.0.1:<port>` points every client at it. Jobs run in background
threads of the server through the emulator's runners; everything the API serves is kept in the
SQLite job store under $SMLOCAL_HOME (see docs/api.md).
"""
