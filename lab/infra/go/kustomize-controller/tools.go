//go:build tools

// Package tools pins the Flux controller built by lab/infra/install.sh.
package tools

import _ "github.com/fluxcd/kustomize-controller"
