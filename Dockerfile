# The grader in a container, for instructors on macOS, Windows or any Docker host (README, "In a container").
#   make image                       # BASE, TORCH and IMAGE below; the Makefile fills .image/
#   docker run --rm --network none -v "$PWD/subs:/subs:ro" -v "$PWD/out:/out" quant-grader grade L2-A /subs -o /out
# Under Docker's default profile bubblewrap may not make namespaces, so the grader (root in here) runs
# each submission's code as an unprivileged uid of its own. The full sandbox: --user grader --security-opt
# seccomp=unconfined --security-opt systempaths=unconfined (docs/sandbox.md, "In a container").
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Where torch 2.13.0 comes from when .image/torch/ holds no wheel of it: PyTorch's CPU index (pip's
# choice from PyPI would be a CUDA build of several GB).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUANT_GRADER_MATERIAL=/opt/quant-grader/material
# Python 3 with venv, bubblewrap (the sandbox, where the container lets it work) and setpriv (util-linux).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv bubblewrap util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# .image/ (made by `make image`): torch/ with the wheels of the folder TORCH named, if it named one, and
# pip-cert.pem, pip's CA bundle (PIP_CERT) where the network inspects TLS.
COPY .image/ /opt/quant-grader/image/
# torch first and pinned, then checked: never another build by accident.
RUN set -eu; \
    if [ -f /opt/quant-grader/image/pip-cert.pem ]; then export PIP_CERT=/opt/quant-grader/image/pip-cert.pem; fi; \
    python3 -m venv /opt/quant-grader/venv; \
    pip=/opt/quant-grader/venv/bin/pip; \
    if ls /opt/quant-grader/image/torch/torch-2.13.0*.whl >/dev/null 2>&1; then \
      $pip install --no-index --no-deps --find-links /opt/quant-grader/image/torch torch==2.13.0; \
      $pip install torch==2.13.0; \
    else \
      $pip install torch==2.13.0 --index-url "$TORCH_INDEX"; \
    fi; \
    /opt/quant-grader/venv/bin/python -c "import torch; assert torch.__version__ == '2.13.0+cpu', torch.__version__"
# The project: the grader's source (build packs it into the Gradescope zips) and its grading material. The
# hidden tests and the reference are for the grader alone, root or the user `grader` (uid 1000, for
# `docker run --user grader` with bubblewrap let through): the student's code runs as another uid.
COPY pyproject.toml README.md /opt/quant-grader/material/
COPY grader/ /opt/quant-grader/material/grader/
COPY assignments/ /opt/quant-grader/material/assignments/
COPY solutions/ /opt/quant-grader/material/solutions/
COPY templates/ /opt/quant-grader/material/templates/
COPY examples/ /opt/quant-grader/material/examples/
RUN set -eu; \
    if [ -f /opt/quant-grader/image/pip-cert.pem ]; then export PIP_CERT=/opt/quant-grader/image/pip-cert.pem; fi; \
    /opt/quant-grader/venv/bin/pip install /opt/quant-grader/material; \
    /opt/quant-grader/venv/bin/python -c "import torch; assert torch.__version__ == '2.13.0+cpu', torch.__version__"; \
    rm -rf /opt/quant-grader/image /opt/quant-grader/material/build /opt/quant-grader/material/*.egg-info; \
    useradd --uid 1000 --create-home --shell /usr/sbin/nologin grader; \
    chown -R grader:grader /opt/quant-grader/material; \
    chmod 700 /opt/quant-grader/material
WORKDIR /grading
ENTRYPOINT ["/opt/quant-grader/venv/bin/python", "-m", "grader"]
CMD ["--help"]
