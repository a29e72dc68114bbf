from crmify.mappers import LeadModelFieldMapper


class CustomerFieldMapper(LeadModelFieldMapper):
    field_mapping = {
        "user__first_name": "first_name",
        "user__last_name": "last_name",
        "user__email": "email",
        "phone": "phone",
        "city": "city",
    }
    fallbacks = {"user__username": "email"}
