from rest_framework import serializers

from groupcare.api import InputSerializer
from members.models import ApiToken, ClinicRole, User


class ClinicRoleOutputSerializer(serializers.ModelSerializer):
    clinic_id = serializers.IntegerField(source="clinic.id")
    clinic_name = serializers.CharField(source="clinic.name")
    clinic_timezone = serializers.CharField(source="clinic.timezone")

    class Meta:
        model = ClinicRole
        fields = ["clinic_id", "clinic_name", "clinic_timezone", "role"]


class MeOutputSerializer(serializers.ModelSerializer):
    roles = ClinicRoleOutputSerializer(many=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "roles"]


class ApiTokenInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, help_text="Tells your tokens apart.")

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A token needs a name.")
        return value.strip()


class ApiTokenOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenIssuedSerializer(ApiTokenOutputSerializer):
    token = serializers.CharField(
        help_text="The token itself. It is shown only in this response; store it now."
    )

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = [*ApiTokenOutputSerializer.Meta.fields, "token"]
        read_only_fields = fields
