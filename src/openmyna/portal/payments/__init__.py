"""公金決済 (P6): taxes, premiums and fees paid from the portal through a payment company.

- ``service.Payments``: agencies' payment requests, the person's attempts, the receipt.
- ``provider``: the payment-provider interface and the demo's simulated provider.
- ``pages``: ``/payments`` and the simulated provider's checkout.
"""
