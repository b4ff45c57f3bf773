//go:build tools

// Package tools pins the External Secrets controller built by lab/infra/install.sh.
package tools

import _ "github.com/external-secrets/external-secrets"
