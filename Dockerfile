# First draft (the "Ship it" issue completes it): one image, `switchboard controller` and, once it
# lands, `switchboard webhooks`. Node runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY controller ./controller
COPY connectors ./connectors
COPY crds ./crds
USER 65532:65532
ENTRYPOINT ["node", "bin/switchboard.ts"]
CMD ["controller"]
