"""crmify's tables. Written by hand so that it works for any CRMIFY['LEAD_MODEL']: the anchor's target and the
dependency on the lead model's app are read from the setting, as Django's own migrations do for AUTH_USER_MODEL.
(The 1.x migration named a fixed model and could not create its table in most host projects.)"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from crmify import conf

LEAD_MODEL = conf.lead_model_label()


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(LEAD_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Lead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("anchor_key", models.CharField(blank=True, db_index=True, max_length=64)),
                ("lead_source", models.CharField(blank=True, max_length=255)),
                ("first_name", models.CharField(blank=True, max_length=255)),
                ("last_name", models.CharField(blank=True, max_length=255)),
                ("email", models.EmailField(blank=True, max_length=254)),
                ("secondary_email", models.EmailField(blank=True, max_length=254)),
                ("phone", models.CharField(blank=True, max_length=64)),
                ("mobile_phone", models.CharField(blank=True, max_length=64)),
                ("dob", models.DateField(blank=True, null=True)),
                ("street_address", models.CharField(blank=True, max_length=255)),
                ("city", models.CharField(blank=True, max_length=255)),
                ("state", models.CharField(blank=True, max_length=255)),
                ("country", models.CharField(blank=True, max_length=255)),
                ("external_id", models.CharField(blank=True, max_length=255)),
                ("external_status", models.CharField(blank=True, max_length=100)),
                ("last_synced", models.DateTimeField(blank=True, null=True)),
                ("sync_hash", models.CharField(blank=True, max_length=64)),
                ("version", models.PositiveBigIntegerField(default=0)),
                ("synced_version", models.PositiveBigIntegerField(default=0)),
                ("deleted_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("anchor", models.OneToOneField(blank=True, null=True,
                                                on_delete=django.db.models.deletion.SET_NULL,
                                                related_name="crm_lead", to=LEAD_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name="OutboxEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("sync", "Sync lead"), ("delete", "Delete lead"),
                                                   ("event", "Track event")], max_length=10)),
                ("payload", models.JSONField(blank=True, default=dict)),
                ("status", models.CharField(choices=[("pending", "Pending"), ("done", "Delivered"),
                                                     ("dead", "Dead letter")], default="pending", max_length=10)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("available_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("claimed_until", models.DateTimeField(blank=True, null=True)),
                ("claim_token", models.CharField(blank=True, max_length=32)),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("done_at", models.DateTimeField(blank=True, null=True)),
                ("lead", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="outbox",
                                           to="crmify.lead")),
            ],
            options={"verbose_name_plural": "outbox entries"},
        ),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(fields=["status", "available_at"], name="crmify_outbox_due_idx"),
        ),
        migrations.AddIndex(
            model_name="outboxentry",
            index=models.Index(fields=["lead", "status", "id"], name="crmify_outbox_lead_idx"),
        ),
    ]
