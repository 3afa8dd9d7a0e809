"""Document field names: the one source of truth.

The importer writes these, the index template maps them, the Kibana dashboard and the
hints read them. ECS-aligned, following Elastic's AWS CloudTrail integration so Elastic
Security rules and people's habits carry over.
"""

from __future__ import annotations

TIMESTAMP = "@timestamp"

# ECS
EVENT_ID = "event.id"
EVENT_ACTION = "event.action"            # eventName
EVENT_PROVIDER = "event.provider"        # eventSource
EVENT_DATASET = "event.dataset"          # always DATASET below
EVENT_OUTCOME = "event.outcome"          # success | failure
EVENT_KIND = "event.kind"
CLOUD_PROVIDER = "cloud.provider"        # always "aws"
CLOUD_REGION = "cloud.region"
CLOUD_ACCOUNT_ID = "cloud.account.id"
SOURCE_ADDRESS = "source.address"        # sourceIPAddress, as given
SOURCE_IP = "source.ip"                  # only when sourceIPAddress is a valid IP
USER_AGENT = "user_agent.original"
USER_ID = "user.id"
USER_NAME = "user.name"                  # IAM user name, or the role session name
USER_ROLES = "user.roles"                # the role name for assumed roles
USER_ACCESS_KEY_ID = "aws.cloudtrail.user_identity.access_key_id"  # only with --keep-access-keys

DATASET = "aws.cloudtrail"

# aws.cloudtrail.* (snake_case CloudTrail fields)
CT = "aws.cloudtrail"
CT_EVENT_TYPE = "aws.cloudtrail.event_type"
CT_EVENT_CATEGORY = "aws.cloudtrail.event_category"
CT_EVENT_VERSION = "aws.cloudtrail.event_version"
CT_READ_ONLY = "aws.cloudtrail.read_only"
CT_ERROR_CODE = "aws.cloudtrail.error_code"
CT_ERROR_MESSAGE = "aws.cloudtrail.error_message"
CT_RECIPIENT_ACCOUNT_ID = "aws.cloudtrail.recipient_account_id"
CT_REQUEST_ID = "aws.cloudtrail.request_id"
CT_MANAGEMENT_EVENT = "aws.cloudtrail.management_event"
CT_API_VERSION = "aws.cloudtrail.api_version"
CT_VPC_ENDPOINT_ID = "aws.cloudtrail.vpc_endpoint_id"
CT_SHARED_EVENT_ID = "aws.cloudtrail.shared_event_id"
CT_SESSION_CREDENTIAL_FROM_CONSOLE = "aws.cloudtrail.session_credential_from_console"
CT_CONSOLE_LOGIN = "aws.cloudtrail.console_login"  # responseElements.ConsoleLogin (Success/Failure)
CT_UI_TYPE = "aws.cloudtrail.user_identity.type"
CT_UI_ARN = "aws.cloudtrail.user_identity.arn"
CT_UI_PRINCIPAL_ID = "aws.cloudtrail.user_identity.principal_id"
CT_UI_INVOKED_BY = "aws.cloudtrail.user_identity.invoked_by"
CT_UI_SESSION_ISSUER_ARN = "aws.cloudtrail.user_identity.session_context.session_issuer.arn"
CT_UI_SESSION_ISSUER_TYPE = "aws.cloudtrail.user_identity.session_context.session_issuer.type"
CT_UI_MFA_AUTHENTICATED = "aws.cloudtrail.user_identity.session_context.mfa_authenticated"
CT_UI_CREATION_DATE = "aws.cloudtrail.user_identity.session_context.creation_date"
CT_RESOURCES_ARN = "aws.cloudtrail.resources.arn"
CT_RESOURCES_TYPE = "aws.cloudtrail.resources.type"
CT_RESOURCES_ACCOUNT_ID = "aws.cloudtrail.resources.account_id"
CT_TLS_VERSION = "aws.cloudtrail.tls_details.tls_version"
CT_TLS_CLIENT_HOST = "aws.cloudtrail.tls_details.client_provided_host_header"
# Blobs: `flattened` fields, so arbitrary keys never grow the mapping.
CT_REQUEST_PARAMETERS = "aws.cloudtrail.request_parameters"
CT_ADDITIONAL_EVENTDATA = "aws.cloudtrail.additional_eventdata"
CT_RESPONSE_ELEMENTS = "aws.cloudtrail.response_elements"
CT_SERVICE_EVENT_DETAILS = "aws.cloudtrail.service_event_details"
CT_UNMAPPED = "aws.cloudtrail.unmapped"  # top-level keys ctstack does not know yet (not indexed)
CT_ORIGINAL = "event.original"           # the original event as JSON text (--fields full)

# Derived by ctstack
CONSOLE = "ctstack.console"
READ_ONLY = "ctstack.read_only"
AUTOMATION_CANDIDATE = "ctstack.automation_candidate"
SOURCE_FILE = "ctstack.source_file"      # where the event was read from (path or s3:// URL)
# On change events (not read-only), standard and full profiles (provision.cloudtrail.resources, classify.actor):
RESOURCES = "ctstack.resources"                  # every resource the event names or creates, normalised
RESOURCES_CHANGED = "ctstack.resources_changed"  # the ones it changes (creates, modifies, deletes)
RESOURCES_CREATED = "ctstack.resources_created"  # the ones it creates
ACTOR = "ctstack.actor"                          # console, cloudformation, terraform, pulumi, automation, aws-service, unknown
ACTOR_STACK = "ctstack.actor_stack"              # the CloudFormation stack, when the request names it
DRIFT = "ctstack.drift"                          # a console change to a managed resource (set after an import: provision.ingest.drift_marks.mark_drift)
