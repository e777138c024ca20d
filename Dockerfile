# Two images from one file, both running as a non-root user (uid 10001):
#
# - the services image (the default, last stage): the tenant workflows (`services.app:app`) under
#   hypercorn, HTTP/2 cleartext on port 9080 with the production limits (`python -m services`).
#   It holds `services`, `telemetry`, `sealing` and `asl` and only what serving needs: no
#   control-plane CLI, no boto3, no docker library.
#     docker build -t landlord-restate-services:0.1.0 .
#   The `docker` and `ecs` compute backends load their library only when a tenant asks for one;
#   to offer them, add their extras: docker build --build-arg EXTRAS=docker,ecs .
#   Lambda Tasks of an ASL definition need boto3 too: EXTRAS=lambda-tasks.
# - the control image (`--target control`): the `landlord-restate` command (extras cli, ecs and
#   step-functions), for the controller and the one-shot steps `identity-key` and `register`.
#     docker build --target control -t landlord-restate-control:0.1.0 .
#
# BASE_IMAGE is any Debian-based image with python3 >= 3.11 and its venv module. The default is
# the official slim image; where no registry is reachable, build from a base made locally
# (see docs/local.md): docker build --build-arg BASE_IMAGE=my-base:tag .
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- the services' virtualenv: the distribution without extras (EXTRAS: docker, ecs, lambda-tasks)
FROM ${BASE_IMAGE} AS build-services
ARG EXTRAS=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/landlord
WORKDIR /src
# Dependencies first (a layer that survives code changes), then the project itself.
COPY pyproject.toml README.md ./
RUN for extra in $(echo "$EXTRAS" | tr ',' ' '); do \
      case "$extra" in docker|ecs|lambda-tasks) ;; \
        *) echo "EXTRAS: '$extra' is not a serving extra (docker, ecs, lambda-tasks)" >&2; exit 1 ;; esac; \
    done \
 && /opt/landlord/bin/pip install --quiet ".${EXTRAS:+[$EXTRAS]}" \
 && /opt/landlord/bin/pip uninstall --quiet --yes landlord-restate
# Only the packages serving imports: the wheel built here holds services, telemetry, sealing
# and asl, and the console script it would add (`landlord-restate`, the CLI) is removed, as its
# code is absent.
COPY services ./services
COPY telemetry ./telemetry
COPY sealing ./sealing
COPY asl ./asl
# pip and setuptools only build the virtualenv (a quarter of it): the image does not keep them.
RUN /opt/landlord/bin/pip install --quiet --no-deps . \
 && rm /opt/landlord/bin/landlord-restate \
 && /opt/landlord/bin/python -m pip uninstall --quiet --yes pip setuptools \
 && find /opt/landlord -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/landlord/bin/python -m compileall -q /opt/landlord/lib

# -- the control plane's virtualenv: every package, the CLI and the AWS providers -------------
FROM ${BASE_IMAGE} AS build-control
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/landlord
WORKDIR /src
COPY pyproject.toml README.md ./
RUN /opt/landlord/bin/pip install --quiet ".[cli,ecs,step-functions]" \
 && /opt/landlord/bin/pip uninstall --quiet --yes landlord-restate
COPY provider ./provider
COPY services ./services
COPY telemetry ./telemetry
COPY sealing ./sealing
COPY asl ./asl
COPY local_stack ./local_stack
RUN /opt/landlord/bin/pip install --quiet --no-deps . \
 && /opt/landlord/bin/python -m pip uninstall --quiet --yes pip setuptools \
 && find /opt/landlord -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/landlord/bin/python -m compileall -q /opt/landlord/lib

# -- what both images share: the user and the environment ------------------------------------
FROM ${BASE_IMAGE} AS runtime
RUN groupadd --system --gid 10001 landlord \
 && useradd --system --uid 10001 --gid landlord --home-dir /var/lib/landlord --create-home \
      --shell /usr/sbin/nologin landlord
ENV PATH=/opt/landlord/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /var/lib/landlord

# -- the control image: `landlord-restate controller`, `identity-key`, `register`, ... ---------
FROM runtime AS control
COPY --from=build-control /opt/landlord /opt/landlord
USER 10001:10001
ENTRYPOINT ["landlord-restate"]
CMD ["--help"]

# -- the services image (the default target) --------------------------------------------------
FROM runtime AS services
COPY --from=build-services /opt/landlord /opt/landlord
ENV LANDLORD_SERVICES_STATE_DIR=/var/lib/landlord/tenants \
    LANDLORD_SERVICES_LOG_FORMAT=json
USER 10001:10001
EXPOSE 9080
# /live is answered by the app itself (not signature-checked) while it serves; /health would also
# fail when a backend is down, which a restart cannot mend. python is all the image has.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9080/live', timeout=2)"]
ENTRYPOINT ["python", "-m", "services"]
CMD ["--bind", "0.0.0.0:9080"]
