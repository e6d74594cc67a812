"""hoist's instance agent: stages a job, runs it, ships logs and outputs.

Shipped as one zipapp (agent/build_bundle.py) stored in the job's bucket as a
content-addressed blob; the user data (agent/loader.sh) fetches it, checks its
SHA-256 and runs agent/bootstrap.sh from inside it. Python 3.9+ standard
library only: Amazon Linux 2023 ships python3 without boto3.

Modules: util (logging, paths, subprocesses), aws (SigV4, IMDS, credentials,
S3, ECR), gpu (the NVIDIA driver), image (the
container image: registry lookup, build, push, pull), container (how the
script runs), outputs (the upload of results), job (the whole job), cli.
"""
