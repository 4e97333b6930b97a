# LittleWriter API. Build: docker build -t littlewriter .   Run: docker run -p 8000:8000 littlewriter
# Every package comes from the locked, hashed requirements (requirements/README.md).
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements ./requirements
RUN pip install --no-cache-dir --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LW_DATA_DIR=/var/lib/littlewriter
# A Hangul-capable font, so that Korean books show their names and scenes in the pictures.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-nanum \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system littlewriter \
 && useradd --system --gid littlewriter --home-dir /var/lib/littlewriter --create-home littlewriter
COPY requirements/main.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER littlewriter
WORKDIR /var/lib/littlewriter
VOLUME ["/var/lib/littlewriter"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["littlewriter", "serve", "--host", "0.0.0.0", "--port", "8000"]
