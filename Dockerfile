# reclm serve in a container: one stateless replica. Datasets and trained run dirs come in read-only volumes; the
# prepared-dataset cache is per container (rebuilt in seconds at start). Run N of these behind any load balancer.
#   docker build -t reclm .
#   docker run -p 8080:8080 -v /srv/reclm/data:/shared/data:ro -v /srv/reclm/runs:/runs:ro reclm \
#     serve --host 0.0.0.0 --dataset ml-latest-small --model /runs/lrurec --threads 1
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
RUN mkdir -p /shared/data && chown node /shared
# $RECLM_SHARED/data/<dataset> is where reclm looks for datasets: mount them at /shared/data.
ENV NODE_ENV=production RECLM_SHARED=/shared RECLM_CACHE=/tmp/reclm-cache RECLM_THREADS=1
USER node
EXPOSE 8080
# The healthcheck is what a load balancer should ask too: 503 while loading or stopping, 200 when ready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM (docker stop) finishes the requests in flight, then exits.
ENTRYPOINT ["node", "bin/reclm.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--dataset", "embedded", "--model", "cooc"]
