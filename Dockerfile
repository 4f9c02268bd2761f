# One image for every dsync service; the command picks the service:
#   python -m dsync_services.<gateway|directory|roles|sessions|fanout>
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml constraints.txt README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install --no-cache-dir -c constraints.txt -e . && useradd --system dsync
USER dsync
EXPOSE 8080 9100
CMD ["python", "-m", "dsync_services.gateway"]
