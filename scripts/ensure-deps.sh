# Sourced by scripts/test.sh and scripts/lab.sh: npm packages and the pinned servers, when missing.
# (eslint, prettier and puppeteer-core: a node_modules installed before they were added lacks them)
[ -d node_modules/@temporalio/worker ] && [ -d node_modules/typescript-eslint ] && [ -d node_modules/prettier ] && [ -d node_modules/puppeteer-core ] || npm ci --no-audit --no-fund
bash lab/infra/install.sh
