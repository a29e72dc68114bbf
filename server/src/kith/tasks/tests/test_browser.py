"""Tasks in headless Chromium: add a follow-up from a contact's page, find it under Today in My tasks, complete it
with one click (HTMX, no page load), and read a reminder from the notification bell. Screenshots go to
``server/var/screenshots/tasks-*.png``."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from kith.contacts.services import company_create, contact_create
from kith.core import clock
from kith.deals.services import deal_create, pipeline_create
from kith.tasks.models import Task, TaskStatus
from kith.tasks.reminders import reminders_send_due
from kith.tasks.services import task_create
from kith.web.tests.test_browser import browser, log_in, new_page, shot  # noqa: F401  (fixtures by name)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_adds_a_task_from_a_contact_completes_it_in_my_tasks_and_reads_a_reminder(
        live_server, personas, new_page):  # noqa: F811  (the imported fixture, by name)
    personas.acme.timezone = "UTC"
    personas.acme.save()
    contact = contact_create(workspace=personas.acme, actor=personas.alice,
                             data={"first_name": "Dana", "last_name": "Scully", "email": "dana@fbi.test"})
    now = clock.now()
    task_create(workspace=personas.acme, actor=personas.alice,
                data={"title": "Renew the X-files budget", "due_at": now - dt.timedelta(days=1),
                      "assignee": personas.alice.pk, "reminder_at": now - dt.timedelta(minutes=5)})
    task_create(workspace=personas.acme, actor=personas.alice,
                data={"title": "Quarterly review", "due_at": now + dt.timedelta(days=5), "assignee": personas.alice.pk})
    reminders_send_due()
    # Due later today in the workspace's zone (UTC), but never in the past, whatever the hour the test runs.
    due = min(now + dt.timedelta(minutes=30), now.replace(hour=23, minute=59))
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    panel = page.locator("#kith-tasks-panel")
    expect(panel).to_contain_text("No open tasks")
    panel.get_by_label("Task title").fill("Call Dana about the pilot")
    panel.get_by_label("Due", exact=True).fill(due.strftime("%Y-%m-%dT%H:%M"))
    panel.get_by_role("button", name="Add task").click()
    expect(panel).to_contain_text("Call Dana about the pilot")
    shot(page, "tasks-contact-panel")
    task = Task.objects.get(title="Call Dana about the pilot")
    assert task.contact_id == contact.pk and task.assignee_id == personas.alice.pk

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    page.get_by_role("heading", name="My tasks").wait_for()
    today = page.locator("section", has=page.locator("#tasks-today"))
    expect(today).to_contain_text("Call Dana about the pilot")
    expect(page.locator("section", has=page.locator("#tasks-overdue"))).to_contain_text("Renew the X-files budget")
    shot(page, "tasks-my-tasks")

    # Keyboard: focus the round button and press Enter; HTMX swaps the row in place.
    button = page.get_by_role("button", name="Complete “Call Dana about the pilot”")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Reopen “Call Dana about the pilot”")).to_be_visible()
    expect(page.locator(f"#task-{task.pk}")).to_have_class("kith-task kith-task--done")
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    shot(page, "tasks-completed")

    bell = page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications")
    expect(bell).to_contain_text("1 unread")
    bell.click()
    page.get_by_role("heading", name="Notifications").wait_for()
    shot(page, "tasks-notifications")
    page.get_by_role("button", name="Unread: Reminder: “Renew the X-files budget”", exact=False).click()
    page.get_by_role("heading", name="Renew the X-files budget").wait_for()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications")).not_to_contain_text(
        "unread")
    shot(page, "tasks-detail")


def test_a_meeting_is_logged_and_a_task_added_on_a_deal_page(live_server, personas, new_page):  # noqa: F811
    company = company_create(workspace=personas.acme, actor=personas.alice, data={"name": "Globex"})
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Globex pilot",
                       company=company)
    page = new_page()
    log_in(page, live_server.url, personas.alice.email)

    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    page.get_by_label("Kind").select_option(label="Meeting")
    page.get_by_label("Title (optional)").fill("Kick-off with procurement")
    page.get_by_label("Text").fill("<p>Agreed on a <b>three-month</b> pilot.</p>")
    page.get_by_role("button", name="Log it").click()
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Kick-off with procurement")
    panel = page.locator("#kith-tasks-panel")
    panel.get_by_label("Task title").fill("Send the pilot contract")
    panel.get_by_label("Due", exact=True).fill((clock.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    panel.get_by_role("button", name="Add task").click()
    expect(panel).to_contain_text("Send the pilot contract")
    shot(page, "tasks-deal-page")

    page.goto(f"{live_server.url}/companies/{company.pk}/")
    expect(page.locator(".kith-timeline")).to_contain_text("Kick-off with procurement")
    expect(page.locator("#kith-tasks-panel")).to_contain_text("No open tasks")
    shot(page, "tasks-company-page")
