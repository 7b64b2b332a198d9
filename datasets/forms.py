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


class BrowserUploadForm(forms.Form):
    """What upload.js says about the file before sending it straight to storage."""

    filename = forms.CharField(
        max_length=1024,
        error_messages={"required": "Choose a CSV file to upload."},
    )
    size = forms.IntegerField(
        min_value=0,
        error_messages={
            "required": "The browser did not say how large the file is. Reload the page.",
            "invalid": "The file size must be a whole number of bytes.",
            "min_value": "The file size must be a whole number of bytes.",
        },
    )
