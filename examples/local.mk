## examples fragment
