# The twelve build steps of a typical hosted-platform image, after the lock and the pin.
FROM docker.io/library/debian:12-slim@sha256:6fcb2d7a6d2a3b87f7e3f8d35d1b1d5b49e4a5e51e7d8e4f9e7f0c0a4d2e1f3b
RUN wget https://repo.anaconda.com/miniconda/Miniconda3-latest-Linux-x86_64.sh -O /tmp/miniconda.sh && bash /tmp/miniconda.sh -b -p /opt/conda
RUN conda update --all -y
RUN conda install -y scikit-learn
RUN conda env create -f environment.yml
RUN pip install pandas
RUN pip install -r requirements.txt
RUN apt-get update && apt-get install -y curl && apt-get upgrade -y
RUN apk add --no-cache git
RUN npm install -g yarn
RUN curl -fsSL https://example.org/install.sh | bash
ADD https://example.org/tool.tar.gz /opt/
RUN git clone https://github.com/example/tool /opt/tool
