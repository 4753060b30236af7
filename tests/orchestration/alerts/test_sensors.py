"""The alert sensors POST to a real HTTP server on 127.0.0.1: a failed run, and every run's
failed checks (two runs, two alerts); with PORTFOLIO_ALERT_WEBHOOK unset nothing is sent."""

import json

import dagster as dg
import pytest

from orchestration.defs.alerts.sensors import check_failure_alerts, run_failure_alerts
from orchestration.defs.alerts.webhook import AlertDeliveryError, AlertWebhook
from orchestration.settings import ALERT_WEBHOOK_VARIABLE, SettingsError, load_settings


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@dg.op
def fetch_quotes() -> None:
    raise ValueError("vendor file quotes.csv never arrived")


@dg.job
def nightly_quotes() -> None:
    fetch_quotes()


@dg.asset(check_specs=[dg.AssetCheckSpec("closes_positive", asset="closes")])
def closes(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    passed = context.run.tags.get("closes") == "positive"
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(passed=passed, description="a close is -1.0")]
    )


def _failed_run(instance: dg.DagsterInstance):
    result = nightly_quotes.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def _posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def test_a_failed_run_is_posted_to_the_webhook(httpserver, persistent_instance, monkeypatch):
    httpserver.expect_request("/hooks/ops", method="POST").respond_with_data("ok")
    monkeypatch.setenv(ALERT_WEBHOOK_VARIABLE, httpserver.url_for("/hooks/ops"))
    context = _failed_run(persistent_instance)
    webhook = AlertWebhook(url=dg.EnvVar(ALERT_WEBHOOK_VARIABLE))
    run_failure_alerts(context, alert_webhook=webhook)
    (body,) = _posted(httpserver)
    assert body["event"] == "run_failure"
    assert body["job"] == "nightly_quotes"
    assert body["run_id"] == context.dagster_run.run_id
    assert body["text"].startswith(":red_circle: Run failed: `nightly_quotes`")
    (step,) = body["step_errors"]
    assert step["step"] == "fetch_quotes"
    assert "vendor file quotes.csv never arrived" in step["error"]
    assert httpserver.log[0][0].headers["Content-Type"] == "application/json"


def test_nothing_is_sent_when_the_webhook_is_unset(httpserver, persistent_instance):
    context = _failed_run(persistent_instance)
    skip = run_failure_alerts(context, alert_webhook=AlertWebhook())
    assert isinstance(skip, dg.SkipReason)
    assert skip.skip_message == f"{ALERT_WEBHOOK_VARIABLE} is not set: no alert is sent"
    tick = check_failure_alerts.evaluate_tick(
        dg.build_sensor_context(
            instance=persistent_instance, resources={"alert_webhook": AlertWebhook()}
        )
    )
    assert tick.skip_message == f"{ALERT_WEBHOOK_VARIABLE} is not set: no alert is sent"
    assert httpserver.log == []


def _check_tick(instance, cursor, url):
    return check_failure_alerts.evaluate_tick(
        dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"alert_webhook": AlertWebhook(url=url)}
        )
    )


def test_every_run_with_failed_checks_is_posted_once(httpserver, persistent_instance):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    first = _check_tick(persistent_instance, None, url)
    assert first.skip_message == "first tick: watching runs that end from now on"
    runs = []
    for tag in ("negative", "positive", "negative"):
        result = dg.materialize([closes], instance=persistent_instance, tags={"closes": tag})
        runs.append(result.run_id)
    second = _check_tick(persistent_instance, first.cursor, url)
    bodies = _posted(httpserver)
    assert [body["run_id"] for body in bodies] == [runs[0], runs[2]]
    for body in bodies:
        assert body["event"] == "check_failure"
        assert body["checks"] == [
            {
                "asset": "closes",
                "check": "closes_positive",
                "severity": "ERROR",
                "partition": None,
                "description": "a close is -1.0",
            }
        ]
        assert body["text"].startswith(
            ":warning: 1 asset check(s) failed in `__ephemeral_asset_job__`"
        )
    third = _check_tick(persistent_instance, second.cursor, url)
    assert third.skip_message == "no failed check in the 0 run(s) that ended"
    assert len(httpserver.log) == 2


def test_a_refused_alert_fails_without_repeating_the_url(httpserver):
    httpserver.expect_request("/secret-token", method="POST").respond_with_data("no", status=500)
    url = httpserver.url_for("/secret-token")
    with pytest.raises(AlertDeliveryError, match="answered HTTP 500") as raised:
        AlertWebhook(url=url).post({"text": "x"})
    assert "secret-token" not in str(raised.value)


@pytest.mark.parametrize("value", ["ftp://hooks.example/x", "hooks.example/x", "https:///x"])
def test_the_webhook_setting_must_be_an_http_url(tmp_path, value):
    with pytest.raises(SettingsError, match=ALERT_WEBHOOK_VARIABLE) as raised:
        load_settings({"PORTFOLIO_HOME": str(tmp_path), ALERT_WEBHOOK_VARIABLE: value})
    assert value not in str(raised.value)


def test_the_webhook_setting_accepts_an_https_url(tmp_path):
    url = "https://hooks.example/services/T0/B0/abc"
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path), ALERT_WEBHOOK_VARIABLE: url})
    assert settings.alert_webhook == url
