# The services image: the tenant workflows (`services.app:app`) under hypercorn, HTTP/2 cleartext
# on port 9080 with the production limits (`landlord-restate serve`), as a non-root user.
#
# BASE_IMAGE is any Debian-based image with python3 >= 3.11 and its venv module. The default is
# the official slim image; where no registry is reachable, build from a base made locally
# (see docs/local.md): docker build --build-arg BASE_IMAGE=my-base:tag .
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/landlord
WORKDIR /src
# Dependencies first (a layer that survives code changes), then the project itself.
COPY pyproject.toml README.md ./
RUN mkdir provider services \
 && /opt/landlord/bin/pip install --quiet . \
 && /opt/landlord/bin/pip uninstall --quiet --yes landlord-restate
COPY provider ./provider
COPY services ./services
RUN /opt/landlord/bin/pip install --quiet --no-deps . \
 && find /opt/landlord -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/landlord/bin/python -m compileall -q /opt/landlord/lib

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 landlord \
 && useradd --system --uid 10001 --gid landlord --home-dir /var/lib/landlord --create-home \
      --shell /usr/sbin/nologin landlord
COPY --from=build /opt/landlord /opt/landlord
ENV PATH=/opt/landlord/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANDLORD_SERVICES_STATE_DIR=/var/lib/landlord/tenants \
    LANDLORD_SERVICES_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/landlord
EXPOSE 9080
# /health is answered by the app itself and is not signature-checked; python is all the image has.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9080/health', timeout=2)"]
ENTRYPOINT ["landlord-restate"]
CMD ["serve", "--bind", "0.0.0.0:9080"]
