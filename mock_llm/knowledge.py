"""What the mock "knows": a support FAQ for a fictional product, Acme Cloud.

Each entry has a difficulty, the phrasings users send, the reference answer and a
plausible wrong answer. A model answers correctly with a probability that depends
on its quality tier and the entry's difficulty (see ``answers.CORRECT_RATE``), so
routing easy questions to cheap models and hard ones to strong models has a real,
measurable quality cost. ``data/queries.jsonl`` is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Difficulty = Literal["simple", "complex"]


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    difficulty: Difficulty
    phrasings: tuple[str, ...]
    answer: str
    wrong: str


def _e(id_: str, difficulty: Difficulty, phrasings: list[str], answer: str, wrong: str) -> Entry:
    return Entry(id_, difficulty, tuple(phrasings), answer, wrong)


FAQ: tuple[Entry, ...] = (
    _e(
        "hours",
        "simple",
        ["What are your support hours?", "When is support available?", "Support hours?"],
        "Chat support is open 24/7; phone support runs 8am-8pm ET, Monday to Friday.",
        "Support is open 9am-5pm ET, Monday to Friday only.",
    ),
    _e(
        "reset_password",
        "simple",
        ["How do I reset my password?", "I forgot my password, how can I reset it?", "Reset password"],
        "Click 'Forgot password' on the sign-in page and follow the link we email you; it is valid for 30 minutes.",
        "Email support with your username and we will send you a new password within 3 days.",
    ),
    _e(
        "plans",
        "simple",
        ["What plans do you offer?", "Which plans are available?", "List your plans"],
        "Three plans: Free, Pro at $20 per user per month, and Enterprise with custom pricing.",
        "Two plans: Basic at $10 per month and Premium at $50 per month.",
    ),
    _e(
        "pro_price",
        "simple",
        ["How much does the Pro plan cost?", "What is the price of Pro?", "Pro plan price?"],
        "Pro costs $20 per user per month, or $200 per user per year.",
        "Pro costs $15 per user per month with no annual option.",
    ),
    _e(
        "free_limits",
        "simple",
        ["What are the limits of the free plan?", "What does the free tier include?"],
        "Free includes 3 projects, 1 GB of storage and 1,000 API calls per day.",
        "Free includes unlimited projects and 10 GB of storage.",
    ),
    _e(
        "cancel",
        "simple",
        ["How do I cancel my subscription?", "How can I cancel my plan?", "Cancel subscription"],
        "Go to Settings > Billing > Cancel plan; you keep access until the end of the billing period.",
        "Subscriptions can only be cancelled by phoning our sales team.",
    ),
    _e(
        "refund_policy",
        "simple",
        ["What is your refund policy?", "Can I get a refund?", "Do you give refunds?"],
        "We refund any payment within 14 days of the charge, no questions asked.",
        "We do not offer refunds on any plan.",
    ),
    _e(
        "payment_methods",
        "simple",
        ["Which payment methods do you accept?", "Can I pay with PayPal?"],
        "We accept Visa, Mastercard, American Express and PayPal; Enterprise can pay by invoice.",
        "We accept bank transfer only.",
    ),
    _e(
        "data_region",
        "simple",
        ["Where is my data stored?", "Which region hosts my data?"],
        "Data is stored in the EU (Frankfurt) or the US (Virginia), chosen when the workspace is created.",
        "All data is stored in Singapore.",
    ),
    _e(
        "export",
        "simple",
        ["How do I export my data?", "Can I download all my data?"],
        "Settings > Data > Export creates a ZIP of all projects; we email a link when it is ready.",
        "Data export is not available; contact support for a database dump.",
    ),
    _e(
        "api_key",
        "simple",
        ["Where do I find my API key?", "How do I get an API key?"],
        "Open Settings > API keys and click 'Create key'; the key is shown once, so store it safely.",
        "API keys are printed on your monthly invoice.",
    ),
    _e(
        "rate_limit",
        "simple",
        ["What is the API rate limit?", "How many API requests can I make?"],
        "600 requests per minute per key on Pro, 60 on Free; Enterprise limits are set per contract.",
        "There is no rate limit on any plan.",
    ),
    _e(
        "sso",
        "simple",
        ["Do you support SSO?", "Can I sign in with SAML?"],
        "Yes: SAML and OIDC single sign-on are included in Enterprise.",
        "No, single sign-on is not supported.",
    ),
    _e(
        "two_factor",
        "simple",
        ["How do I enable two-factor authentication?", "How do I turn on 2FA?"],
        "Settings > Security > Two-factor authentication, then scan the QR code with an authenticator app.",
        "Two-factor authentication is enabled automatically and cannot be changed.",
    ),
    _e(
        "add_user",
        "simple",
        ["How do I add a team member?", "How can I invite a colleague?"],
        "Settings > Members > Invite, enter their email address and choose a role.",
        "Each user must create a separate company account.",
    ),
    _e(
        "change_email",
        "simple",
        ["How do I change my email address?", "Can I update my email?"],
        "Settings > Profile > Email; we send a confirmation link to the new address.",
        "Email addresses cannot be changed after sign-up.",
    ),
    _e(
        "delete_account",
        "simple",
        ["How do I delete my account?", "Delete my account"],
        "Settings > Profile > Delete account; the data is erased within 30 days.",
        "Accounts are deleted automatically after one week of inactivity.",
    ),
    _e(
        "status",
        "simple",
        ["Is the service down?", "Where can I check the system status?"],
        "Live status and incident history are at status.acme.example.",
        "We do not publish service status.",
    ),
    _e(
        "trial",
        "simple",
        ["Is there a free trial?", "Can I try Pro for free?"],
        "Yes: Pro has a 14-day free trial with no card required.",
        "There is no trial; you must buy a year up front.",
    ),
    _e(
        "invoice",
        "simple",
        ["Where can I find my invoices?", "How do I download an invoice?"],
        "Settings > Billing > Invoices lists every invoice as a PDF.",
        "Invoices are sent by post only.",
    ),
    _e(
        "storage_upgrade",
        "simple",
        ["How do I get more storage?", "Can I buy extra storage?"],
        "Add storage in 100 GB blocks at $5 per month each under Settings > Billing.",
        "Storage cannot be increased on any plan.",
    ),
    _e(
        "mobile_app",
        "simple",
        ["Do you have a mobile app?", "Is there an iPhone app?"],
        "Yes, for iOS and Android; search for 'Acme Cloud' in the App Store or Google Play.",
        "There is no mobile app; use the desktop site.",
    ),
    _e(
        "uptime_sla",
        "simple",
        ["What is your uptime SLA?", "What uptime do you guarantee?"],
        "99.9% monthly uptime on Pro and 99.99% on Enterprise, with service credits if we miss it.",
        "We guarantee 100% uptime on all plans.",
    ),
    _e(
        "languages",
        "simple",
        ["Which languages does the app support?", "Is the app available in French?"],
        "English, French, German, Spanish and Japanese.",
        "English only.",
    ),
    _e(
        "webhooks",
        "simple",
        ["Do you support webhooks?", "How do I set up a webhook?"],
        "Yes: Settings > Integrations > Webhooks, add a URL and pick the events to send.",
        "Webhooks are not supported; poll the API instead.",
    ),
    _e(
        "migrate_region",
        "complex",
        [
            "We created our workspace in the US region but now need EU data residency for GDPR; what are the "
            "steps to move it without losing our webhooks and API keys?"
        ],
        "Open a region-migration request under Settings > Data; we copy the workspace to Frankfurt during a "
        "maintenance window you pick, webhooks and API keys move with it, and the US copy is deleted 7 days "
        "after you confirm.",
        "Export your data, delete the workspace and create a new one in the EU; API keys and webhooks must be "
        "recreated by hand.",
    ),
    _e(
        "proration",
        "complex",
        [
            "I upgraded from Free to Pro on the 10th and added 3 users on the 20th of a 30-day month; how much will "
            "my first invoice be and why?",
            "How is proration calculated if I upgrade mid-month and add users later?",
        ],
        "You pay per user per day used: 1 user x 21 days + 3 users x 11 days = 54 user-days at $20/30 per "
        "user-day, so $36.00 on the first invoice.",
        "You pay the full month for every user, so 4 x $20 = $80.00.",
    ),
    _e(
        "double_charge",
        "complex",
        [
            "I was charged twice for the same invoice and one payment used an expired card; how do I get the "
            "duplicate refunded and make sure the next renewal uses my new card?"
        ],
        "Reply to the invoice email or open Billing > Invoices > Report a problem; the duplicate is refunded "
        "to the original method within 5-10 days, and you should set the new card as default under Billing > "
        "Payment methods and remove the expired one.",
        "Charges on expired cards are reversed automatically, so no action is needed.",
    ),
    _e(
        "rate_limit_strategy",
        "complex",
        [
            "Our integration sends bursts of 2,000 API calls at the top of every hour on the Pro plan and gets 429 "
            "errors; how should we restructure it?"
        ],
        "Pro allows 600 requests per minute per key, so spread the burst over at least 4 minutes with a token "
        "bucket, honour the Retry-After header with jittered exponential backoff, and batch calls where the "
        "endpoint accepts lists.",
        "Create more API keys and rotate them so each key stays under the limit.",
    ),
    _e(
        "sso_migration",
        "complex",
        [
            "We are moving 200 users from password login to SAML SSO; how do we switch without locking anyone "
            "out, and what happens to users who are not in our identity provider?"
        ],
        "Configure SAML under Settings > Security, test it with an admin, then enable 'SSO optional' so both "
        "logins work, invite users to link accounts, and switch to 'SSO required' once all are linked; users "
        "not in the identity provider keep password access only if you add them as exceptions.",
        "Enable SSO required at once; users who cannot sign in should reset their passwords.",
    ),
    _e(
        "data_deletion_audit",
        "complex",
        [
            "A customer asked us to delete their personal data under GDPR; how do we delete it from projects, "
            "backups and exports and prove it was done?"
        ],
        "Delete the records in the projects, then file a deletion request under Settings > Data > Privacy; "
        "backups roll off within 35 days, export links expire after 7 days, and the request produces a "
        "deletion certificate you can give the customer.",
        "Deleting the records in the project removes them from backups at once, and no proof is available.",
    ),
    _e(
        "webhook_retries",
        "complex",
        [
            "Our webhook endpoint was down for 3 hours; which events did we lose, how do retries work, and how "
            "do we replay what was missed?"
        ],
        "Nothing is lost: failed deliveries are retried with exponential backoff for 24 hours, and you can "
        "replay any event from the last 30 days under Integrations > Webhooks > Deliveries.",
        "Events are sent once; anything sent while the endpoint was down is lost.",
    ),
    _e(
        "downgrade_storage",
        "complex",
        [
            "If we downgrade from Pro to Free while using 40 GB of storage across 8 projects, what happens to "
            "the data that is over the free limits?"
        ],
        "Nothing is deleted: the workspace becomes read-only until you are within Free's 3 projects and 1 GB, "
        "and you can archive or export projects to get there.",
        "Projects over the limit and any storage above 1 GB are deleted immediately.",
    ),
    _e(
        "cost_estimate",
        "complex",
        [
            "We have 25 users, need 300 GB of storage and an annual contract; what would Pro cost per year "
            "compared with monthly billing?"
        ],
        "Annual: 25 x $200 = $5,000 plus 2 storage blocks x $5 x 12 = $120, so $5,120 a year; monthly it is "
        "25 x $20 x 12 = $6,000 plus $120, so $6,120: annual saves $1,000.",
        "Annual and monthly billing cost the same: $6,000 a year.",
    ),
    _e(
        "api_pagination",
        "complex",
        [
            "Our nightly sync fetches all 50,000 records through the API and sometimes misses records changed "
            "during the run; how should we paginate and sync incrementally?"
        ],
        "Use cursor pagination (the next_cursor field) instead of page numbers, and sync incrementally with "
        "updated_since set to the start time of the last successful run, so records changed mid-run are "
        "picked up next time.",
        "Request all records in one call with page_size=50000.",
    ),
    _e(
        "incident_postmortem",
        "complex",
        [
            "During last week's outage our requests failed for 40 minutes; are we owed a service credit on "
            "Pro, how is it calculated and how do we claim it?"
        ],
        "40 minutes in a 30-day month is 99.91% uptime, which meets Pro's 99.9% SLA, so no credit is due; "
        "Enterprise's 99.99% would have been missed and credits are claimed via support within 30 days.",
        "Any outage earns a full month's refund, paid automatically.",
    ),
    _e(
        "key_rotation",
        "complex",
        [
            "An API key was committed to a public repository; what should we do right now and how do we rotate "
            "keys without downtime?"
        ],
        "Revoke the leaked key at once under Settings > API keys, check the audit log for its use, then "
        "create a new key, deploy it alongside the old ones, and remove old keys once traffic has moved.",
        "Keep using the key but make the repository private.",
    ),
    _e(
        "multi_team_billing",
        "complex",
        [
            "Two departments share one workspace; can we split the invoice between them and give each its own "
            "budget alert?"
        ],
        "Yes on Enterprise: create a cost centre per department under Billing > Cost centres, assign members, "
        "and set a monthly budget alert on each; invoices then list charges per cost centre.",
        "Invoices cannot be split; create two separate companies instead.",
    ),
)


# Text to look up: lower case, single spaces, no trailing punctuation.
def lookup_key(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split()).rstrip("?!. ")


BY_PHRASING: dict[str, Entry] = {lookup_key(p): entry for entry in FAQ for p in entry.phrasings}
