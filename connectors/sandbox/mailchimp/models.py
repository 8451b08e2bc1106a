"""Request bodies the Mailchimp emulator accepts, as pydantic models (strict JSON types).

Required fields follow the Marketing API reference (and the OpenAPI 3.0.55 request schemas:
``Subscriber_List_1``, ``Merge_Field_1``, ``Add_List_Members_1/2``, ``List_8``,
``Campaign_1``, ``postBatches_request``, ``Member_Tags``). Unknown keys are ignored, as
Mailchimp ignores them. Failures become ``errors: [{field, message}]`` in
:func:`connectors.sandbox.mailchimp.base.validate`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MemberStatus = Literal["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]
MergeType = Literal[
    "text",
    "number",
    "address",
    "phone",
    "date",
    "url",
    "imageurl",
    "radio",
    "dropdown",
    "birthday",
    "zip",
]


class _Body(BaseModel):
    """Strict JSON types (no "true" for a boolean), unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ContactIn(_Body):
    """An audience's postal contact (required by anti-spam law, so by Mailchimp)."""

    company: str
    address1: str
    address2: str = ""
    city: str
    state: str = ""
    zip: str = ""
    country: str
    phone: str = ""


class CampaignDefaultsIn(_Body):
    """The defaults new campaigns of an audience start with."""

    from_name: str
    from_email: str
    subject: str
    language: str


class ListIn(_Body):
    """``POST /lists``."""

    name: str = Field(min_length=1)
    contact: ContactIn
    permission_reminder: str
    use_archive_bar: bool = False
    campaign_defaults: CampaignDefaultsIn
    notify_on_subscribe: str = ""
    notify_on_unsubscribe: str = ""
    email_type_option: bool
    double_optin: bool = False
    marketing_permissions: bool = False
    visibility: Literal["pub", "prv"] = "pub"


class ListPatch(_Body):
    """``PATCH /lists/{list_id}``: any subset of the create fields."""

    name: str | None = Field(default=None, min_length=1)
    contact: ContactIn | None = None
    permission_reminder: str | None = None
    use_archive_bar: bool | None = None
    campaign_defaults: CampaignDefaultsIn | None = None
    notify_on_subscribe: str | None = None
    notify_on_unsubscribe: str | None = None
    email_type_option: bool | None = None
    double_optin: bool | None = None
    marketing_permissions: bool | None = None
    visibility: Literal["pub", "prv"] | None = None


class MergeFieldIn(_Body):
    """``POST /lists/{list_id}/merge-fields``."""

    tag: str | None = None
    name: str = Field(min_length=1)
    type: MergeType
    required: bool = False
    default_value: str = ""
    public: bool = True
    display_order: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    help_text: str = ""


class MergeFieldPatch(_Body):
    """``PATCH /lists/{list_id}/merge-fields/{merge_id}`` (the type cannot change)."""

    tag: str | None = None
    name: str | None = Field(default=None, min_length=1)
    required: bool | None = None
    default_value: str | None = None
    public: bool | None = None
    display_order: int | None = None
    options: dict[str, Any] | None = None
    help_text: str | None = None


class MemberIn(_Body):
    """Optional member fields shared by add, upsert and update."""

    email_type: Literal["html", "text"] | None = None
    merge_fields: dict[str, Any] | None = None
    interests: dict[str, bool] | None = None
    language: str | None = None
    vip: bool | None = None
    ip_signup: str | None = None
    ip_opt: str | None = None


class MemberAdd(MemberIn):
    """``POST /lists/{list_id}/members``."""

    email_address: str
    status: MemberStatus
    tags: list[str] = Field(default_factory=list)


class MemberPut(MemberIn):
    """``PUT /lists/{list_id}/members/{subscriber_hash}`` (add or update)."""

    email_address: str
    status_if_new: MemberStatus
    status: MemberStatus | None = None


class MemberPatch(MemberIn):
    """``PATCH /lists/{list_id}/members/{subscriber_hash}``."""

    email_address: str | None = None
    status: MemberStatus | None = None


class TagIn(_Body):
    """One tag state in ``POST .../members/{hash}/tags``."""

    name: str = Field(min_length=1)
    status: Literal["active", "inactive"]


class MemberTagsIn(_Body):
    """``POST /lists/{list_id}/members/{subscriber_hash}/tags``."""

    tags: list[TagIn]
    is_syncing: bool = False


class ConditionsIn(_Body):
    """A saved segment's rules (kept as given; not evaluated by the sandbox)."""

    match: Literal["any", "all"] = "any"
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class SegmentIn(_Body):
    """``POST /lists/{list_id}/segments``: a static segment (tag) or a saved segment."""

    name: str = Field(min_length=1)
    static_segment: list[str] | None = None
    options: ConditionsIn | None = None


class SegmentPatch(_Body):
    """``PATCH /lists/{list_id}/segments/{segment_id}``."""

    name: str | None = Field(default=None, min_length=1)
    static_segment: list[str] | None = None
    options: ConditionsIn | None = None


class SegmentMembersIn(_Body):
    """``POST /lists/{list_id}/segments/{segment_id}``: add and remove addresses."""

    members_to_add: list[str] = Field(default_factory=list)
    members_to_remove: list[str] = Field(default_factory=list)


class SegmentOptsIn(_Body):
    """A campaign's audience restriction."""

    saved_segment_id: int | None = None
    match: Literal["any", "all"] | None = None
    conditions: list[dict[str, Any]] | None = None


class RecipientsIn(_Body):
    """A campaign's audience."""

    list_id: str
    segment_opts: SegmentOptsIn | None = None


class CampaignSettingsIn(_Body):
    """The settings of a campaign the sandbox keeps."""

    subject_line: str | None = None
    preview_text: str | None = None
    title: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    to_name: str | None = None
    folder_id: str | None = None
    template_id: int | None = None
    auto_footer: bool | None = None
    inline_css: bool | None = None


class CampaignIn(_Body):
    """``POST /campaigns``."""

    type: Literal["regular", "plaintext", "absplit", "rss", "variate"]
    recipients: RecipientsIn | None = None
    settings: CampaignSettingsIn | None = None


class CampaignPatch(_Body):
    """``PATCH /campaigns/{campaign_id}``."""

    recipients: RecipientsIn | None = None
    settings: CampaignSettingsIn | None = None


class ContentIn(_Body):
    """``PUT /campaigns/{campaign_id}/content`` (HTML, plain text, template or URL)."""

    html: str | None = None
    plain_text: str | None = None
    url: str | None = None
    template: dict[str, Any] | None = None


class OperationIn(_Body):
    """One operation of ``POST /batches``; ``body`` is a JSON *string*."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    body: str = ""
    operation_id: str = ""


class BatchIn(_Body):
    """``POST /batches``."""

    operations: list[OperationIn]


class WebhookIn(_Body):
    """``POST /lists/{list_id}/webhooks`` (the sandbox delivers to loopback URLs)."""

    url: str = Field(min_length=1)
    events: dict[str, bool] = Field(default_factory=dict)
    sources: dict[str, bool] = Field(default_factory=dict)


class WebhookPatch(_Body):
    """``PATCH /lists/{list_id}/webhooks/{webhook_id}``: the fields given change."""

    url: str | None = Field(default=None, min_length=1)
    events: dict[str, bool] | None = None
    sources: dict[str, bool] | None = None
