"""Syncing the catalog from Platfone: ETags, unavailable services, popular flags, the command, the task."""

from __future__ import annotations

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from catalog import services, tasks
from catalog.management.commands.sync_catalog import Command
from catalog.models import CatalogSync, Country, Service
from platfone.emulator import catalog as seeded
from platfone.errors import UpstreamUnavailable

pytestmark = pytest.mark.django_db


def drop_upstream(monkeypatch, emulator, kind, *ids):
    """Make the emulator's ``services`` or ``countries`` list leave out ``ids`` (with a matching new ETag)."""
    original = getattr(emulator, kind)
    id_field = "service_id" if kind == "services" else "country_id"

    def listing(api_key):
        items, _ = original(api_key)
        kept = [item for item in items if item[id_field] not in ids]
        return kept, seeded.etag_of(kept)

    monkeypatch.setattr(emulator, kind, listing)
    return original


def test_a_first_sync_copies_every_seeded_service_and_country(emulator, tenant):
    # when
    report = services.catalog_sync(tenant=tenant)
    # then
    assert set(Service.objects.filter(tenant=tenant).values_list("service_id", flat=True)) == {
        s.service_id for s in seeded.SERVICES
    }
    assert set(Country.objects.filter(tenant=tenant).values_list("country_id", flat=True)) == {
        c.country_id for c in seeded.COUNTRIES
    }
    assert report.created == {
        "services": len(seeded.SERVICES), "popular_services": 0, "countries": len(seeded.COUNTRIES),
    }
    jamaica = Country.objects.get(tenant=tenant, country_id="jm")
    assert jamaica.name == "Jamaica" and jamaica.codes == ["1658", "1876"]


def test_popular_services_are_flagged(emulator, tenant):
    services.catalog_sync(tenant=tenant)
    popular = set(Service.objects.filter(tenant=tenant, is_popular=True).values_list("service_id", flat=True))
    assert popular == {s.service_id for s in seeded.SERVICES if s.popular}


def test_an_unchanged_catalog_costs_a_304_and_rewrites_nothing(emulator, tenant):
    # given
    services.catalog_sync(tenant=tenant)
    stamps = dict(Service.objects.filter(tenant=tenant).values_list("service_id", "updated_at"))
    country_stamps = dict(Country.objects.filter(tenant=tenant).values_list("country_id", "updated_at"))
    etags = dict(CatalogSync.objects.filter(tenant=tenant).values_list("kind", "etag"))
    emulator.reset_counters()
    # when
    report = services.catalog_sync(tenant=tenant)
    # then
    assert sorted(report.not_modified) == ["countries", "popular_services", "services"]
    assert report.created == {} and report.updated == {}
    assert emulator.request_counts() == {"services": 1, "popular_services": 1, "countries": 1}
    assert dict(Service.objects.filter(tenant=tenant).values_list("service_id", "updated_at")) == stamps
    assert dict(Country.objects.filter(tenant=tenant).values_list("country_id", "updated_at")) == country_stamps
    assert dict(CatalogSync.objects.filter(tenant=tenant).values_list("kind", "etag")) == etags
    assert all(etags.values())
    assert all(state.checked_at and state.changed_at for state in CatalogSync.objects.filter(tenant=tenant))


def test_the_304_path_runs_no_write_query_on_the_catalog(emulator, tenant, django_assert_max_num_queries):
    services.catalog_sync(tenant=tenant)
    # per list: read the state, update checked_at (plus savepoints) — nothing per service or country
    with django_assert_max_num_queries(12):
        services.catalog_sync(tenant=tenant)


def test_a_forced_sync_fetches_everything_but_changes_no_unchanged_row(emulator, tenant):
    # given
    services.catalog_sync(tenant=tenant)
    stamps = dict(Service.objects.filter(tenant=tenant).values_list("service_id", "updated_at"))
    # when
    report = services.catalog_sync(tenant=tenant, force=True)
    # then
    assert report.not_modified == []
    assert report.updated == {"services": 0, "popular_services": 0, "countries": 0}
    assert dict(Service.objects.filter(tenant=tenant).values_list("service_id", "updated_at")) == stamps


def test_a_service_that_disappears_upstream_is_marked_unavailable_not_deleted(emulator, tenant, monkeypatch):
    # given
    services.catalog_sync(tenant=tenant)
    drop_upstream(monkeypatch, emulator, "services", "signal")
    # when
    report = services.catalog_sync(tenant=tenant)
    # then
    signal = Service.objects.get(tenant=tenant, service_id="signal")
    assert signal.is_available is False
    assert report.unavailable["services"] == 1
    assert Service.objects.filter(tenant=tenant, is_available=True).count() == len(seeded.SERVICES) - 1


def test_a_service_that_comes_back_is_available_again(emulator, tenant, monkeypatch):
    # given
    services.catalog_sync(tenant=tenant)
    original = drop_upstream(monkeypatch, emulator, "services", "signal")
    services.catalog_sync(tenant=tenant)
    assert Service.objects.get(tenant=tenant, service_id="signal").is_available is False
    # when
    monkeypatch.setattr(emulator, "services", original)
    services.catalog_sync(tenant=tenant)
    # then
    assert Service.objects.get(tenant=tenant, service_id="signal").is_available is True


def test_a_disappeared_country_is_marked_unavailable(emulator, tenant, monkeypatch):
    services.catalog_sync(tenant=tenant)
    drop_upstream(monkeypatch, emulator, "countries", "jm")
    services.catalog_sync(tenant=tenant)
    assert Country.objects.get(tenant=tenant, country_id="jm").is_available is False


def test_a_type_override_survives_a_sync(emulator, tenant):
    # given
    services.catalog_sync(tenant=tenant)
    discord = Service.objects.get(tenant=tenant, service_id="discord")
    services.service_set_type_override(service=discord, type_override="messaging")
    # when
    services.catalog_sync(tenant=tenant, force=True)
    # then
    discord.refresh_from_db()
    assert (discord.type, discord.auto_type, discord.type_override) == ("messaging", "gaming", "messaging")


def test_an_upstream_failure_is_recorded_and_raised(emulator, tenant):
    emulator.add_fault(kind="error", endpoint="services", probability=1.0)
    with pytest.raises(UpstreamUnavailable):
        services.catalog_sync(tenant=tenant)
    assert "500" in CatalogSync.objects.get(tenant=tenant, kind="services").last_error
    assert not Service.objects.filter(tenant=tenant).exists()


def test_an_empty_service_list_is_refused_instead_of_emptying_the_storefront(emulator, tenant, monkeypatch):
    # given
    services.catalog_sync(tenant=tenant)
    drop_upstream(monkeypatch, emulator, "services", *(s.service_id for s in seeded.SERVICES))
    # when
    with pytest.raises(UpstreamUnavailable, match="empty services list"):
        services.catalog_sync(tenant=tenant)
    # then
    assert Service.objects.filter(tenant=tenant, is_available=True).count() == len(seeded.SERVICES)
    assert "empty" in CatalogSync.objects.get(tenant=tenant, kind="services").last_error


def test_each_tenant_gets_its_own_copy(emulator, tenant, other_tenant):
    services.catalog_sync_all()
    assert Service.objects.filter(tenant=tenant).count() == len(seeded.SERVICES)
    assert Service.objects.filter(tenant=other_tenant).count() == len(seeded.SERVICES)


class TestCommand:
    def test_it_syncs_one_tenant(self, emulator, tenant, other_tenant):
        out = StringIO()
        call_command("sync_catalog", "--tenant", "acme", stdout=out)
        assert "acme: services: 46 new" in out.getvalue().replace(str(len(seeded.SERVICES)), "46")
        assert Service.objects.filter(tenant=tenant).exists()
        assert not Service.objects.filter(tenant=other_tenant).exists()

    def test_it_syncs_every_configured_tenant_without_a_slug(self, emulator, tenant, other_tenant):
        call_command("sync_catalog", stdout=StringIO())
        assert Service.objects.filter(tenant=other_tenant).exists()

    def test_the_second_run_reports_not_modified(self, emulator, tenant):
        call_command("sync_catalog", "--tenant", "acme", stdout=StringIO())
        out = StringIO()
        call_command("sync_catalog", "--tenant", "acme", stdout=out)
        assert "services: not modified" in out.getvalue()

    def test_an_unknown_tenant_is_a_command_error(self, emulator):
        with pytest.raises(CommandError, match="Unknown tenant 'nope'"):
            call_command("sync_catalog", "--tenant", "nope", stdout=StringIO())

    def test_a_tenant_without_credentials_is_a_command_error(self, tenant):
        with pytest.raises(CommandError, match="no Platfone"):
            call_command("sync_catalog", "--tenant", tenant.slug, stdout=StringIO())

    def test_an_upstream_failure_is_a_command_error(self, emulator, tenant):
        emulator.add_fault(kind="error", endpoint="countries", probability=1.0)
        with pytest.raises(CommandError, match="acme"):
            call_command("sync_catalog", "--tenant", "acme", stdout=StringIO())

    def test_bad_input_exits_non_zero_as_a_shell_command(self, capsys):
        # given the entry point manage.py uses, minus its closing of the test's database connection
        command = Command()
        # when
        with mock.patch("django.core.management.base.connections.close_all"), pytest.raises(SystemExit) as exited:
            command.run_from_argv(["manage.py", "sync_catalog", "--tenant", "nope"])
        # then
        assert exited.value.code != 0
        assert "Unknown tenant 'nope'" in capsys.readouterr().err


class TestBeat:
    def test_the_hourly_schedule_is_a_periodic_task_operators_can_edit(self):
        task = PeriodicTask.objects.get(task=tasks.SYNC_ALL_TASK)
        assert task.enabled
        assert (task.interval.every, task.interval.period) == (1, "hours")

    def test_the_task_syncs_every_tenant_and_reports_failures(self, emulator, tenant, other_tenant):
        # given
        emulator.add_fault(kind="error", endpoint="services", count=3)  # the first tenant's call and retries
        # when
        result = tasks.sync_all_catalogs.delay().get()
        # then
        assert result["acme"].startswith("failed:")
        assert "services: 46 new" in result["globex"].replace(str(len(seeded.SERVICES)), "46")
