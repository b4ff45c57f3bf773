//go:build tools

// Package tools pins the Jaeger v2 binary (all-in-one) built by lab/infra/install.sh.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
