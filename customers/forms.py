from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from .imports import KINDS


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(name, name.capitalize()) for name in KINDS], label="What the file holds")
    file = forms.FileField(label="CSV file (UTF-8, header row)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; this page takes files up to {filesizeformat(limit)}. "
                "Import larger files with `python manage.py import_data KIND FILE`."
            )
        return upload
