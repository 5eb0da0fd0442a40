from django.db import migrations

# The planner guesses how many records a search prefix matches from the column's sampled
# lexemes. With the default sample (100) a rare prefix looked common, and a contact search
# read all 300,000 contacts instead of its index; 1000 tells rare from common.
FORWARD = """
ALTER TABLE crm_account ALTER COLUMN search SET STATISTICS 1000;
ALTER TABLE crm_contact ALTER COLUMN search SET STATISTICS 1000;
"""
BACKWARD = """
ALTER TABLE crm_account ALTER COLUMN search SET STATISTICS -1;
ALTER TABLE crm_contact ALTER COLUMN search SET STATISTICS -1;
"""


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_list_indexes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
