// Package auth authenticates API callers with bearer tokens and authorizes
// them by role.
//
// Tokens are random strings ("lnt_" + 43 base64url characters) handed to
// people and programs once; the server keeps only their sha256, in a YAML
// file or the LANTERN_TOKENS environment variable, so a leaked
// configuration does not leak credentials. Tokens have 256 bits of entropy,
// so a plain sha256 is as strong as a slow password hash here.
//
// Roles are ordered: reader < writer < admin. Every API call needs a token
// unless the server runs with Insecure (local experiments only) or, for
// reads, AnonymousRead. MLflow clients send the token as a bearer token
// (MLFLOW_TRACKING_TOKEN) or as the password of basic auth
// (MLFLOW_TRACKING_USERNAME/PASSWORD); both are accepted.
package auth
