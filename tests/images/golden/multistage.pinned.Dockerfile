FROM golang:1.22@sha256:0a1573672dbcb1439594d9f51838e33025c07a7aa5cc5a95c5717948bfc7b806 As Builder
WORKDIR /src
RUN go build -o /out/app .

FROM builder AS tested
RUN go test ./...

FROM gcr.io/distroless/static-debian12:nonroot@sha256:6f68261444e524c701c4622a965f1e1dcca760b96995fd60c9ab19f160d18998 as FINAL
COPY --from=builder /out/app /app
COPY --from=0 /src/go.mod /go.mod
COPY --from=Tested /out/app /app2
COPY --chown=1000:1000 --from=nginx:1.25-alpine@sha256:93775076138058ae4b4a004f78ee6b4d2f5cefae70fa46b95ac394c8991a09de /etc/nginx/nginx.conf /etc/nginx.conf
COPY --link --from=ghcr.io/astral-sh/uv:0.4.0@sha256:3699fd1d60b6fc6be0d0376331fb7083bca05efda8ca6140cf5cbd2ffb937cdb /uv /bin/uv

FROM scratch
COPY --from=final /app /app
