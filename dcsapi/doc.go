// Package dcsapi is a small client for the parts of the Huawei Cloud DCS and
// IAM APIs the exporter needs: instance status counts, the instance list and
// project lookup. It signs requests exactly as the official SDK does, decodes
// every documented response shape, and returns typed errors.
package dcsapi
