from django.db import migrations

# As crm 0007: a sample of 1000 lexemes, so that rare and common search prefixes are told
# apart when the planner chooses between the search index and reading in list order.
FORWARD = "ALTER TABLE pipeline_lead ALTER COLUMN search SET STATISTICS 1000;"
BACKWARD = "ALTER TABLE pipeline_lead ALTER COLUMN search SET STATISTICS -1;"


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0007_list_indexes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
