"""What the store's customers receive, as Kith templates (Jinja2 in Kith's sandbox; ``event.*`` is the triggering
event's properties, as the store sent them through ``crmify.track``). Kept here, in one place, so the messages
are reviewed like code; Kith stores them as versioned templates that marketers may edit afterwards."""

from __future__ import annotations

WELCOME = "Kars: welcome"
THANK_YOU = "Kars: thank you"
ABANDONED_SMS = "Kars: abandoned purchase"

# The names storefront_configure_kith uses for the templates (--templates welcome=ID,...).
TEMPLATE_KEYS = {"welcome": WELCOME, "thank_you": THANK_YOU, "abandoned_sms": ABANDONED_SMS}


def email_templates(store_url: str) -> dict[str, dict[str, str]]:
    store_url = store_url.rstrip("/")
    return {
        WELCOME: {
            "subject": "Welcome to Kars, {{ contact.first_name | default(\"there\") }}!",
            "preheader": "Space for the family, best-in-class safety, a great deal.",
            "html": (
                "<p>Hi {{ contact.first_name | default(\"there\") }},</p>"
                "<p>Thanks for joining Kars. Our cars have space for the family, best-in-class safety features "
                "and a great deal waiting for you.</p>"
                f"<p><a href=\"{store_url}/welcome/\">Take a look at this week's cars</a></p>"
                "<p>— The Kars team</p>"
            ),
        },
        THANK_YOU: {
            "subject": "Thank you for buying the {{ event.car }}!",
            "preheader": "Enjoy the drive, and tell your friends.",
            "html": (
                "<p>Hi {{ contact.first_name | default(\"there\") }},</p>"
                "<p>Thank you for your purchase #{{ event.purchase_id }}: the {{ event.car }} is yours.</p>"
                "<p>Happy with it? Tell your friends — "
                f"<a href=\"https://twitter.com/intent/tweet?url={store_url}/&amp;text=I%20just%20bought%20a%20car"
                "%20at%20Kars\">share on X</a> or "
                f"<a href=\"https://www.facebook.com/sharer/sharer.php?u={store_url}/\">on Facebook</a>.</p>"
                "<p>— The Kars team</p>"
            ),
        },
    }


SMS_TEMPLATES = {
    ABANDONED_SMS: {
        "text": "Kars: your {{ event.car }} is still waiting for you. Complete your purchase any time from "
                "your account. Reply STOP to opt out.",
    },
}
