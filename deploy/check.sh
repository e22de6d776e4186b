#!/usr/bin/env bash
# Checks the deployment artefacts of dcs_exporter: Prometheus rules and their
# unit tests, the runbook, the Grafana dashboard and the Helm chart. Needs
# only promtool, helm and Go (the pinned tools: scripts/pinned-tools.sh).
#
# Usage: deploy/check.sh            (from anywhere in the repository)
#
# Environment:
#   HELM      helm command, may have several words   (default: helm)
#   PROMTOOL  promtool command                        (default: promtool)
#   GO        go command                              (default: go)
#
# Every check runs even if an earlier one failed; the script prints each
# check's name and result, a summary line, and exits 1 if any check failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

read -r -a HELM_CMD <<<"${HELM:-helm}"
read -r -a PROMTOOL_CMD <<<"${PROMTOOL:-promtool}"
read -r -a GO_CMD <<<"${GO:-go}"

rules=deploy/prometheus/dcs-alerts.yml
rules_test=deploy/prometheus/dcs-alerts_test.yml
fleet_rules_test=deploy/prometheus/dcs-fleet-alerts_test.yml
chart_rules_test=deploy/prometheus/chart-rules_test.yml
runbook=deploy/runbook.md
chart=deploy/helm/dcs-exporter
chart_rules="$chart/files/dcs-alerts.yml"
dashboard=dashboards/dcs-overview.json

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
failed_names=()

# check NAME COMMAND...: runs COMMAND, shows its output only when it fails.
check() {
	local name="$1"
	shift
	printf '%-62s ' "$name"
	if "$@" >"$work/out" 2>&1; then
		echo PASS
		passed=$((passed + 1))
	else
		echo FAIL
		sed 's/^/    | /' "$work/out"
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
}

# Not named helm/promtool: a function of that name would call itself.
run_helm() { "${HELM_CMD[@]}" "$@"; }
run_promtool() { "${PROMTOOL_CMD[@]}" "$@"; }

# The k8scheck and dashcheck programs are built once and reused.
build_k8scheck() {
	(cd tools/k8scheck && "${GO_CMD[@]}" build -o "$work/k8scheck" .)
}
# The chart rendering tests run helm themselves; HELM tells them which, and
# makes a missing helm a failure rather than a skip.
test_k8scheck() {
	(cd tools/k8scheck && "${GO_CMD[@]}" vet ./... && HELM="${HELM_CMD[*]}" "${GO_CMD[@]}" test -count=1 ./...)
}
build_dashcheck() {
	(cd tools/dashcheck && "${GO_CMD[@]}" build -o "$work/dashcheck" .)
}
test_dashcheck() {
	(cd tools/dashcheck && "${GO_CMD[@]}" vet ./... && "${GO_CMD[@]}" test -count=1 ./...)
}

# The one value the chart's defaults lack: where the API credentials come
# from. Without it the chart refuses to render (no_credentials_rejected).
first_install=(--set credentials.existingSecret=huaweicloud-dcs-readonly)

# template_check VALUES_FILE [K8SCHECK_ARGS...]: helm template | k8scheck;
# without VALUES_FILE, the defaults and first_install.
template_check() {
	local values="$1"
	shift
	local args=("${first_install[@]}")
	[[ -n "$values" ]] && args=(-f "$values")
	[[ -x "$work/k8scheck" ]] || { echo "k8scheck was not built"; return 1; }
	run_helm template dcs-exporter "$chart" "${args[@]}" | "$work/k8scheck" "$@"
}

# The PrometheusRule rendered by the chart must be valid Prometheus rules.
chart_rules_check() {
	template_check "$chart/ci/all-on-values.yaml" -rules-out "$work/chart-rules.yml" >/dev/null &&
		run_promtool check rules "$work/chart-rules.yml"
}

# The rules as the chart renders them for a release "dcs-exporter" in namespace
# "monitoring" (DCSExporterAbsent narrowed to that release) pass their
# promtool tests.
chart_rules_test() {
	mkdir -p "$work/chart-test" &&
		run_helm template dcs-exporter "$chart" --namespace monitoring "${first_install[@]}" --set prometheusRule.enabled=true \
			--set serviceMonitor.enabled=true | "$work/k8scheck" -rules-out "$work/chart-test/chart-rules.yml" >/dev/null &&
		cp "$chart_rules_test" "$work/chart-test/" &&
		run_promtool test rules "$work/chart-test/$(basename "$chart_rules_test")"
}

# The chart must refuse credentials written inline into the config.
inline_secret_rejected() {
	if run_helm template dcs-exporter "$chart" --set config.defaults.credentials.access_key=AK \
		--set config.defaults.credentials.secret_key=SK >/dev/null 2>"$work/inline.err"; then
		echo "helm template accepted inline credentials"
		return 1
	fi
	grep -q 'must not be set inline' "$work/inline.err" || { cat "$work/inline.err"; return 1; }
}

# The chart's defaults name no credentials: it must refuse to render a pod
# that would exit at start, and say what to set.
no_credentials_rejected() {
	if run_helm template dcs-exporter "$chart" >/dev/null 2>"$work/nocreds.err"; then
		echo "helm template rendered the defaults, which have no credentials"
		return 1
	fi
	grep -q 'has no credentials. Set credentials.existingSecret' "$work/nocreds.err" || { cat "$work/nocreds.err"; return 1; }
}

# The dashboard, decoded strictly and its queries parsed by dashcheck, then
# parsed once more by promtool.
dashboard_check() {
	[[ -x "$work/dashcheck" ]] || { echo "dashcheck was not built"; return 1; }
	"$work/dashcheck" -dashboard "$dashboard" -runbook "$runbook" -queries-out "$work/dashboard-queries.yml" &&
		run_promtool check rules "$work/dashboard-queries.yml"
}

# Every alert: severity, summary, a description with its labels, and a
# runbook_url into a section of the runbook that exists.
alerts_check() {
	[[ -x "$work/dashcheck" ]] || { echo "dashcheck was not built"; return 1; }
	"$work/dashcheck" -rules "$rules" -runbook "$runbook"
}

check "promtool check rules ($rules)" run_promtool check rules "$rules"
check "promtool test rules ($rules_test)" run_promtool test rules "$rules_test"
check "promtool test rules ($fleet_rules_test)" run_promtool test rules "$fleet_rules_test"
check "rule copies are identical ($chart_rules)" cmp "$rules" "$chart_rules"
check "dashcheck unit tests" test_dashcheck
check "dashcheck build" build_dashcheck
check "alerts: annotations and runbook sections ($runbook)" alerts_check
check "dashboard: strict decoding, variables, PromQL ($dashboard)" dashboard_check
check "helm lint --strict (default values + credentials)" run_helm lint --strict "$chart" "${first_install[@]}"
for values in "$chart"/ci/*-values.yaml; do
	check "helm lint --strict ($(basename "$values"))" run_helm lint --strict "$chart" -f "$values"
done
check "k8scheck unit tests" test_k8scheck
check "k8scheck build" build_k8scheck
check "helm template (default values + credentials) | k8scheck" template_check ""
for values in "$chart"/ci/*-values.yaml; do
	check "helm template ($(basename "$values")) | k8scheck" template_check "$values"
done
check "chart PrometheusRule is valid (promtool check rules)" chart_rules_check
check "chart PrometheusRule passes its tests ($chart_rules_test)" chart_rules_test
check "chart rejects inline credentials in config" inline_secret_rejected
check "chart rejects default values without credentials" no_credentials_rejected

echo
if ((failed > 0)); then
	printf 'failed: %s\n' "${failed_names[@]}"
fi
echo "check: $passed passed, $failed failed"
((failed == 0))
