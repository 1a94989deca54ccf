# A comment before the first instruction (not a directive: it ends directive parsing)
# escape=`

FROM \
    # comments inside a continuation are dropped
    python:3.12 \

    AS base
RUN apt-get update && \
    apt-get install -y curl
   FROM    debian:bookworm-slim   AS   final   
COPY --from=base \
     /usr/local /usr/local
