"""Forms of the topic and suppression pages: shape only; the services own the rules."""

from __future__ import annotations

from django import forms

# A suppression CSV is addresses only: 100,000 of them are ~3 MB.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class TopicForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "Product news"}))
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Shown to contacts on their preference page.")
    default_subscribed = forms.BooleanField(
        required=False, initial=True, label="Contacts receive it unless they opt out",
        help_text="Untick for a topic contacts must opt in to.")


class SuppressionAddForm(forms.Form):
    address = forms.CharField(label="E-mail address", max_length=254,
                              widget=forms.EmailInput(attrs={"placeholder": "someone@example.com"}))


class SuppressionImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="One address per line, or a column named email or address.")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"Keep the file under {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        raw = upload.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("Save the file as UTF-8 CSV.") from exc
