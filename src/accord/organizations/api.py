"""REST API of customers and contacts (read-only here; administrators edit them in
the back office)."""

from rest_framework import serializers

from accord.core.api import ReadOnlyRecordViewSet

from .filters import ContactFilterSet, CustomerFilterSet
from .models import Contact, Customer


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "code", "description", "active", "created", "updated", "version"]


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "customer",
            "name",
            "email",
            "phone",
            "job_title",
            "created",
            "updated",
            "version",
        ]


class CustomerViewSet(ReadOnlyRecordViewSet):
    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet


class ContactViewSet(ReadOnlyRecordViewSet):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
