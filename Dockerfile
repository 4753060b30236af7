# syntax=docker/dockerfile:1
# The Portfolio Pipeline code location for Kubernetes (deploy/helm/values.yaml): the gRPC code
# server of the user deployment and the image of every run pod the K8sRunLauncher starts.
# Build: docker build -t registry.example.com/portfolio-pipeline:0.1.0 .

# --- build: a virtualenv with the project installed from its pins --------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /opt/dagster/app
COPY deploy/constraints.txt deploy/constraints.txt
# workspace.yaml names the code location the command line records its runs under (job pages);
# dagster.yaml is the instance file a new PORTFOLIO_HOME gets.
COPY pyproject.toml README.md workspace.yaml dagster.yaml ./
COPY analytics_lib analytics_lib
COPY orchestration orchestration
# Editable, at the path the runtime stage uses too: `dg.load_from_defs_folder` finds the project
# by its pyproject.toml above the package, which a site-packages install would not have.
# 'ib' for the Interactive Brokers adapter, 'k8s' for the run launcher the instance names.
RUN pip install --constraint deploy/constraints.txt --editable ".[ib,k8s]" \
    && pip check

# --- runtime: the virtualenv only, run as a non-root user ----------------------------------
FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 portfolio \
    && useradd --system --uid 10001 --gid portfolio --home-dir /opt/dagster --create-home \
       --shell /usr/sbin/nologin portfolio \
    && mkdir -p /opt/dagster/dagster_home /opt/dagster/portfolio \
    && chown -R portfolio:portfolio /opt/dagster
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /opt/dagster/app /opt/dagster/app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PORTFOLIO_HOME=/opt/dagster/portfolio \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1 \
    DAGSTER_EVENT_BATCH_SIZE=1000
WORKDIR /opt/dagster
USER 10001:10001
EXPOSE 3030
# The Helm chart overrides this with `dagster api grpc` and the deployment's dagsterApiGrpcArgs.
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "3030", \
     "--module-name", "orchestration.definitions"]
