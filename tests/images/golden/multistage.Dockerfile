FROM golang:1.22 As Builder
WORKDIR /src
RUN go build -o /out/app .

FROM builder AS tested
RUN go test ./...

FROM gcr.io/distroless/static-debian12:nonroot as FINAL
COPY --from=builder /out/app /app
COPY --from=0 /src/go.mod /go.mod
COPY --from=Tested /out/app /app2
COPY --chown=1000:1000 --from=nginx:1.25-alpine /etc/nginx/nginx.conf /etc/nginx.conf
COPY --link --from=ghcr.io/astral-sh/uv:0.4.0 /uv /bin/uv

FROM scratch
COPY --from=final /app /app
