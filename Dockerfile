# syntax=docker/dockerfile:1
# For those who build with Docker: the same image `make image` builds without a Docker engine
# (static binary on an empty base, user 65532, migrations and Swagger UI embedded in the binary).
# It cannot run on the project's CI machines (no Docker engine there); `make check-image` checks
# the engine-less image instead.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg COMMIT=$(git rev-parse HEAD) -t ecompointer .
#   docker run --rm ecompointer version
#   docker run -p 3000:3000 --env-file ecompointer.env ecompointer
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/ecompointer/ecompointer/server/buildinfo.version=${VERSION} -X github.com/ecompointer/ecompointer/server/buildinfo.commit=${COMMIT}" \
      -o /out/ecompointer ./cmd/ecompointer \
 && mkdir -p /out/rootfs/etc /out/rootfs/tmp /out/rootfs/home/nonroot \
 && chmod 1777 /out/rootfs/tmp \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /out/rootfs/etc/group

FROM scratch
ARG VERSION=devel
ARG COMMIT=unknown
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/rootfs/home/nonroot /home/nonroot
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ecompointer /usr/local/bin/ecompointer
ENV APP_ENV=production LOG_FORMAT=json PORT=3000 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title=ecompointer \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.revision=${COMMIT} \
      org.opencontainers.image.source=https://github.com/ecompointer/ecompointer
USER 65532:65532
EXPOSE 3000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ecompointer"]
CMD ["serve"]
