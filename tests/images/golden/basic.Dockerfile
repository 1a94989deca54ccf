FROM python:3.11-slim
RUN pip install --no-cache-dir requests  # not an image
FROM ubuntu
from alpine:3.19
