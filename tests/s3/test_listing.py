"""Finding CloudTrail objects in S3: the listing follows CloudTrail's layout and prunes by
the filters, asserted by recording every ListObjectsV2 call boto3 makes against moto's
server (real HTTP, real boto3)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from botocore.exceptions import ClientError

from provision.core.errors import CtstackError
from provision.sources.s3layout import S3Filters, date_folders, log_prefixes, make_filters, parse_when
from provision.sources.s3access import S3Object, listing_error, object_problem
from provision.sources.s3bucket import read_ahead
from provision.sources.s3layout import is_s3_url, parse_s3_url
from provision.sources.s3source import S3Import
from tests.support.s3 import BUCKET, INSIGHT_KEY, ORG_KEY, Listings, upload_tree

STRATUS_ACCOUNT, STRATUS_REGION = "307578594326", "euiso-south-3r"
STRATUS_DAY_PREFIX = f"AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/2024/08/02/"


def listed(url: str, filters: S3Filters | None = None) -> tuple[list[str], Listings]:
    listings = Listings()
    source = S3Import([url], filters, session=listings.session)
    return sorted(o.key for o in source.listed_objects()), listings


def test_whole_bucket_finds_account_and_organisation_trails_but_never_lists_digests(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}")

    assert keys == trail_bucket
    assert ORG_KEY in keys
    assert listings.discovery == ["AWSLogs/", "AWSLogs/o-1234abcde/"]
    assert all(prefix.endswith("/CloudTrail/") for prefix in listings.recursive)
    assert not any("Digest" in prefix or "Insight" in prefix for prefix, _ in listings.calls)


def test_one_account_one_region_one_day_lists_only_that_day(trail_bucket):
    filters = make_filters(accounts=[STRATUS_ACCOUNT], regions=[STRATUS_REGION], since="2024-08-02", until="2024-08-02")

    keys, listings = listed(f"s3://{BUCKET}", filters)

    assert keys == [k for k in trail_bucket if k.startswith(STRATUS_DAY_PREFIX)] and len(keys) == 2
    assert listings.recursive == [STRATUS_DAY_PREFIX]
    # Discovery above it: the owners (to learn organisation IDs) and the organisation's accounts.
    assert listings.discovery == ["AWSLogs/", "AWSLogs/o-1234abcde/"]


def test_a_url_that_names_the_account_needs_no_discovery_at_all(trail_bucket):
    filters = make_filters(regions=[STRATUS_REGION], since="2024-08-02", until="2024-08-02")

    keys, listings = listed(f"s3://{BUCKET}/AWSLogs/{STRATUS_ACCOUNT}/", filters)

    assert len(keys) == 2
    assert listings.calls == [(STRATUS_DAY_PREFIX, None)]


def test_account_filter_lists_only_that_accounts_logs(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}", make_filters(accounts=["222222222222"]))

    assert keys == [ORG_KEY]
    assert listings.recursive == ["AWSLogs/o-1234abcde/222222222222/CloudTrail/"]


def test_region_filter_builds_region_prefixes_for_every_account(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}", make_filters(regions=["us-east-1"]))

    assert keys == sorted(k for k in trail_bucket if "/us-east-1/" in k)
    accounts = {k.split("/")[1] for k in trail_bucket if k.split("/")[1].isdigit()}
    assert sorted(listings.recursive) == sorted(
        [f"AWSLogs/{account}/CloudTrail/us-east-1/" for account in accounts]
        + ["AWSLogs/o-1234abcde/222222222222/CloudTrail/us-east-1/"]
    )
    assert listings.discovery == ["AWSLogs/", "AWSLogs/o-1234abcde/"]


def test_since_until_lists_only_the_days_in_range(trail_bucket):
    filters = make_filters(since="2024-07-31", until="2024-08-01")

    keys, listings = listed(f"s3://{BUCKET}", filters)

    in_range = ("/2024/07/31/", "/2024/08/01/")
    assert keys == [k for k in trail_bucket if any(day in k for day in in_range)]
    assert keys
    assert listings.recursive and all(prefix.endswith(in_range) for prefix in listings.recursive)
    # Regions are discovered per account; years, months and days never are.
    assert all(prefix.endswith("/CloudTrail/") or prefix in ("AWSLogs/", "AWSLogs/o-1234abcde/") for prefix in listings.discovery)


def test_relative_since_lists_only_recent_days(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}", make_filters(since="2d"))

    assert keys == []  # the sample data is older than two days
    today = datetime.now(timezone.utc).date()
    assert all(prefix.endswith(tuple(f"{d:%Y/%m/%d}/" for d in [today.fromordinal(today.toordinal() - n) for n in range(3)]))
               for prefix in listings.recursive)


def test_until_alone_discovers_the_oldest_year_then_builds_months_and_days(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}/AWSLogs/{STRATUS_ACCOUNT}/", make_filters(until="2024-08-01"))

    region_prefix = f"AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/"
    assert keys == []  # that account's logs are from 2024-08-02
    assert listings.discovery == [f"AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/", region_prefix]
    assert sorted(listings.recursive) == [f"{region_prefix}2024/{month:02d}/" for month in range(1, 8)] + [f"{region_prefix}2024/08/01/"]


def test_a_deep_url_is_listed_as_is(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}/AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/2024/")

    assert len(keys) == 2
    assert listings.calls == [(f"AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/2024/", None)]


def test_a_deep_url_and_date_filters_intersect(trail_bucket):
    url = f"s3://{BUCKET}/AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/2024/08"  # no trailing slash

    keys, listings = listed(url, make_filters(since="2024-08-02", until="2024-09-30"))

    assert len(keys) == 2
    region_prefix = f"AWSLogs/{STRATUS_ACCOUNT}/CloudTrail/{STRATUS_REGION}/"
    assert sorted(listings.calls) == [(f"{region_prefix}2024/08/{day:02d}/", None) for day in range(2, 32)]


def test_organisation_url_lists_its_accounts(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}/AWSLogs/o-1234abcde/")

    assert keys == [ORG_KEY]
    assert listings.calls == [("AWSLogs/o-1234abcde/", "/"), ("AWSLogs/o-1234abcde/222222222222/CloudTrail/", None)]


def test_insights_are_listed_only_when_asked_for(trail_bucket):
    without, _ = listed(f"s3://{BUCKET}", make_filters(accounts=["333333333333"]))
    with_insights, listings = listed(f"s3://{BUCKET}", make_filters(accounts=["333333333333"], insights=True))

    assert INSIGHT_KEY not in without
    assert sorted(with_insights) == sorted(without + [INSIGHT_KEY])
    assert "AWSLogs/333333333333/CloudTrail-Insight/" in listings.recursive


def test_a_digest_url_is_refused_with_a_reason(trail_bucket):
    with pytest.raises(CtstackError, match="digest files"):
        listed(f"s3://{BUCKET}/AWSLogs/333333333333/CloudTrail-Digest/")


def test_custom_trail_prefix_is_found_below_the_bucket(aws_env, sample_data):
    s3 = aws_env.client()
    s3.create_bucket(Bucket="custom")
    keys = upload_tree(s3, "custom", sample_data / "cloud-snitch", key_prefix="org/prod/")

    found, listings = listed("s3://custom")
    direct, direct_listings = listed("s3://custom/org/prod")

    assert found == direct == sorted(keys)
    assert listings.discovery[:3] == ["AWSLogs/", "", "org/"]
    assert direct_listings.discovery == ["org/prod/AWSLogs/", "org/prod/AWSLogs/o-1234abcde/"]


def test_a_folder_outside_the_layout_is_listed_whole_and_filtered_by_file_name(aws_env, sample_data):
    s3 = aws_env.client()
    s3.create_bucket(Bucket="flat")
    ts = sample_data / "trailscraper"
    for path in ts.glob("*.json*"):
        s3.put_object(Bucket="flat", Key=f"copied/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket="flat", Key="copied/111111111111_CloudTrail-Digest_eu-central-1_x_20171211T1505Z.json.gz", Body=b"{}")

    everything, listings = listed("s3://flat/copied/")
    other_account, _ = listed("s3://flat/copied/", make_filters(accounts=["222222222222"]))

    assert everything == sorted(f"copied/{p.name}" for p in ts.glob("*.json*"))
    assert ("copied/", None) in listings.calls
    assert other_account == []


def test_a_url_naming_one_object_imports_that_object(trail_bucket):
    keys, listings = listed(f"s3://{BUCKET}/{ORG_KEY}")

    assert keys == [ORG_KEY]
    assert listings.calls == []


def test_the_client_follows_the_bucket_to_its_region(aws_env):
    aws_env.client().create_bucket(Bucket="far-away", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})

    source = S3Import(["s3://far-away"])

    assert source.bucket("far-away").region == "eu-west-2"


def test_a_missing_bucket_is_one_sentence(aws_env):
    with pytest.raises(CtstackError) as err:
        S3Import(["s3://no-such-bucket"]).check()
    assert str(err.value) == "The S3 bucket no-such-bucket does not exist (or is not visible to these credentials)."


def test_no_credentials_is_one_sentence(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(CtstackError, match=r"^No AWS credentials found: use --profile"):
        S3Import([f"s3://{BUCKET}"]).check()


def test_an_unknown_profile_is_one_sentence(aws_env):
    with pytest.raises(CtstackError, match=r"^The AWS profile 'nope' is not in"):
        S3Import([f"s3://{BUCKET}"], profile="nope").check()


# -- pure functions ---------------------------------------------------------------------------

def test_s3_urls():
    assert is_s3_url("s3://b/p") and is_s3_url("S3://b") and not is_s3_url("/tmp/s3://x")
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/AWSLogs/1/") == ("b", "AWSLogs/1/")
    with pytest.raises(CtstackError):
        parse_s3_url("s3:///key")


def test_date_folders_use_whole_years_and_months_where_they_fit():
    assert list(date_folders(date(2024, 2, 28), date(2024, 3, 1))) == ["2024/02/28/", "2024/02/29/", "2024/03/01/"]
    assert list(date_folders(date(2023, 12, 31), date(2025, 2, 2))) == [
        "2023/12/31/", "2024/", "2025/01/", "2025/02/01/", "2025/02/02/",
    ]


def test_times_are_dates_utc_times_or_relative():
    now = datetime(2024, 8, 2, 6, 0, tzinfo=timezone.utc)
    assert parse_when("12h", now) == datetime(2024, 8, 1, 18, 0, tzinfo=timezone.utc)
    assert parse_when("7d", now).date() == date(2024, 7, 26)
    assert parse_when("2024-08-01", now) == datetime(2024, 8, 1, tzinfo=timezone.utc)
    assert parse_when("2024-08-01T12:00Z", now) == datetime(2024, 8, 1, 12, tzinfo=timezone.utc)
    assert make_filters(since="12h", now=now).since == date(2024, 8, 1)
    with pytest.raises(CtstackError, match="Cannot read the time"):
        parse_when("last tuesday", now)
    with pytest.raises(CtstackError, match="is after"):
        make_filters(since="2024-08-02", until="2024-08-01")
    with pytest.raises(CtstackError, match="12 digits"):
        make_filters(accounts=["1234"])


def test_error_sentences_name_the_problem_and_the_permission():
    def client_error(code: str, message: str = "") -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, "ListObjectsV2")

    obj = S3Object("b", "AWSLogs/1/k.json.gz", "e", 1)
    assert str(listing_error(client_error("ExpiredToken"), "b", "AWSLogs/")).startswith("The AWS credentials have expired (ExpiredToken)")
    assert str(listing_error(client_error("AccessDenied"), "b", "AWSLogs/")) == "Access denied (AccessDenied): the AWS identity lacks s3:ListBucket on s3://b/AWSLogs/."
    assert str(listing_error(client_error("NoSuchBucket"), "b", "")).startswith("The S3 bucket b does not exist")
    assert "set AWS_REGION" in str(listing_error(client_error("PermanentRedirect"), "b", ""))
    assert "kms:Decrypt" in object_problem(client_error("AccessDenied", "The ciphertext refers to a customer master key that does not exist (KMS)"), obj)
    assert "archived" in object_problem(client_error("InvalidObjectState"), obj)
    assert object_problem(client_error("AccessDenied"), obj) == "access denied (AccessDenied): the AWS identity lacks s3:GetObject on s3://b/AWSLogs/1/k.json.gz"


def test_prefixes_listed_at_the_same_time_still_come_out_in_order():
    def pages(source: str):
        for n in range(5):
            yield f"{source}-{n}"

    sources = [f"p{i}" for i in range(20)]
    assert list(read_ahead(sources, pages, ahead=4, items_ahead=1)) == [f"{s}-{n}" for s in sources for n in range(5)]


def test_a_listing_failure_surfaces_after_the_prefixes_before_it():
    def pages(source: str):
        if source == "bad":
            raise CtstackError("denied")
        yield source

    out = read_ahead(["a", "b", "bad", "c"], pages, ahead=3)
    assert [next(out), next(out)] == ["a", "b"]
    with pytest.raises(CtstackError, match="denied"):
        next(out)


def test_a_big_bucket_without_awslogs_is_refused_rather_than_scanned():
    def children(prefix: str) -> list[str]:  # every folder has 50 sub-folders, none is AWSLogs/
        return [] if prefix.endswith("AWSLogs/") else [f"{prefix}d{i}/" for i in range(50)]

    with pytest.raises(CtstackError, match=r"^No AWSLogs/ folder found in the bucket within 200 folders; give the trail's prefix"):
        list(log_prefixes(children, "", S3Filters()))
