from django.db import migrations

REVIEWERS_GROUP = "reviewers"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=REVIEWERS_GROUP)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=REVIEWERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("hub", "0002_registry_details"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_group, remove_group)]
