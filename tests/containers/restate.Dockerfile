# restate-server for the container tier, where docker.restate.dev cannot be reached: the pinned
# static binary from the npm registry, and CA certificates (it will not start without them).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY restate-server /usr/local/bin/restate-server
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /
EXPOSE 5122 8080 9070
ENTRYPOINT ["/usr/local/bin/restate-server"]
