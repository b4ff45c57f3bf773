# Sourced by scripts/test.sh and scripts/lab.sh: npm packages and the pinned servers, when missing.
[ -d node_modules/@temporalio/worker ] || npm ci --no-audit --no-fund
bash lab/infra/install.sh
