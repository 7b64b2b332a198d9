"""The upload form (the page's plain multipart POST; upload.js sends the same form)."""

from __future__ import annotations

from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty. Choose a CSV file with a header row and data rows.",
        },
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,text/csv"}),
    )
