"""`ctstack up --no-kibana` and images named by env (CTSTACK_ES_IMAGE, CTSTACK_KIBANA_IMAGE) on a
real engine; `status` and `provision` follow the stack's shape. With the local images Kibana is
the stand-in (tests/support/kibana_standin.py: Kibana's API contract, not Kibana)."""

from __future__ import annotations

from provision.stack import lifecycle as stack
from tests.stack.conftest import UP_TIMEOUT


def test_no_kibana_runs_elasticsearch_alone_from_the_env_named_image(local_stack, images):
    up = local_stack.ctstack("up", "--no-kibana", "--timeout", UP_TIMEOUT)
    assert up.returncode == 0, up.output
    assert sorted(local_stack.containers()) == ["elasticsearch"]
    assert local_stack.inspect("elasticsearch", "{{.Config.Image}}") == images.es
    assert stack.NO_KIBANA_NOTE in up.stdout and "Kibana:" not in up.stdout
    assert local_stack.count() == 0


def test_status_and_provision_leave_out_the_kibana_the_stack_does_not_run(local_stack):
    status = local_stack.ctstack("status")
    assert status.returncode == 0, status.output
    assert "Kibana at" not in status.stdout and "elasticsearch" in status.stdout
    provision = local_stack.ctstack("provision")
    assert provision.returncode == 0, provision.output
    assert "Index template for" in provision.stdout and stack.NO_KIBANA_NOTE in provision.stdout


def test_up_without_no_kibana_adds_kibana_and_no_kibana_again_removes_it(local_stack, images):
    up = local_stack.ctstack("up", "--timeout", UP_TIMEOUT)
    assert up.returncode == 0, up.output
    assert sorted(local_stack.containers()) == ["elasticsearch", "kibana", "setup"]
    assert local_stack.inspect("kibana", "{{.Config.Image}}") == images.kibana
    alone = local_stack.ctstack("up", "--no-kibana", "--timeout", UP_TIMEOUT)
    assert alone.returncode == 0, alone.output
    assert sorted(local_stack.containers()) == ["elasticsearch"]
