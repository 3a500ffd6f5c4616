from rest_framework import serializers

from members.models import ClinicRole, User


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
