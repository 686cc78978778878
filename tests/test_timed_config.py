"""Configuration of the timed actions: a bad value stops start-up with one line naming the key,
and the signing key of rating links comes from the environment, a file or the database."""

from __future__ import annotations

import pytest
from test_cli import write_config

from gateway import app_timed, config_timed
from gateway.config import ConfigError, load


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"sla": {"hours": ["weekdays 9-5"]}}, "sla.hours"),
        ({"sla": {"holidays": ["25/12/2026"]}}, "sla.holidays"),
        ({"sla": {"department_hours": ["mon-fri 09:00-17:00"]}}, "sla.department_hours"),
        ({"complaints": {"rota": ["mon-fri=nobody"]}}, "complaints.rota"),
        ({"complaints": {"levels": ["ceo"]}}, "complaints.levels"),
        ({"report": {"day": "monday"}}, "report.day"),
        ({"report": {"time": "8h"}}, "report.time"),
        ({"lifecycle": {"held_digest_time": "8 am"}}, "lifecycle.held_digest_time"),
        ({"lifecycle": {"open_digest_time": "25:00"}}, "lifecycle.open_digest_time"),
        ({"lifecycle": {"forget_closed_days": -1}}, "lifecycle.forget_closed_days"),
        ({"ratings": {"review_at_most": 6}}, "ratings.review_at_most"),
        ({"jobs": {"every_seconds": 0}}, "jobs.every_seconds"),
        ({"web": {"secret_env": "RATING_KEY"}}, "web.secret_env"),
        ({"web": {"secret_file": "missing.key"}}, "web.secret_file"),
    ],
)
def test_bad_values_name_the_key(tmp_path, sections, key):
    with pytest.raises(ConfigError) as error:
        load(write_config(tmp_path, **sections), environ={"RATING_KEY": "short"})
    assert key in str(error.value) and "\n" not in str(error.value)


def test_calendars_per_department(tmp_path):
    config = load(
        write_config(
            tmp_path,
            company={"timezone": "Europe/Paris"},
            sla={
                "hours": ["mon-fri 09:00-18:00"],
                "holidays": ["2026-12-25"],
                "department_hours": ["Night: daily"],
                "department_holidays": ["Night: 2026-12-31"],
            },
        ),  # fmt: skip
        environ={},
    )
    calendars = config_timed.calendars(config)
    assert len(calendars.default.windows) == 5 and calendars.default.timezone == "Europe/Paris"
    night = calendars.for_department("night")
    assert len(night.windows) == 7
    assert {d.isoformat() for d in night.holidays} == {"2026-12-25", "2026-12-31"}


def test_signing_key_sources(tmp_path):
    (tmp_path / "rating.key").write_text("0123456789abcdef0123456789abcdef\n")
    from_file = load(write_config(tmp_path, web={"secret_file": "rating.key"}), environ={})
    assert app_timed.rating_links(from_file).key(None) == b"0123456789abcdef0123456789abcdef"
    environ = {"RATING_KEY": "k" * 40}
    from_env = load(write_config(tmp_path, web={"secret_env": "RATING_KEY"}), environ=environ)
    assert app_timed.rating_links(from_env, environ).key(None) == b"k" * 40
